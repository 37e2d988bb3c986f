#include "manager/internal/wire/hmac.h"

#include <random>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"

namespace mp::manager_internal {
namespace {

std::string Hex(const Sha256Digest& digest) {
  return absl::BytesToHexString(AsBytes(digest));
}

std::string FromHex(absl::string_view hex) {
  return absl::HexStringToBytes(hex);
}

// FIPS 180-4 examples (NIST CSRC "SHA256.pdf") and the million-'a' vector.
TEST(Sha256Test, NistVectors) {
  EXPECT_EQ(Hex(Sha256Of("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Hex(Sha256Of("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(
      Hex(Sha256Of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Hex(Sha256Of(std::string(1000000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, IncrementalUpdatesMatchOneShotAtEveryBoundary) {
  std::string message;
  for (int i = 0; i < 300; ++i) message.push_back(static_cast<char>(i * 7));
  const Sha256Digest whole = Sha256Of(message);
  for (size_t split = 0; split <= message.size(); ++split) {
    Sha256 hash;
    hash.Update(absl::string_view(message).substr(0, split));
    hash.Update(absl::string_view(message).substr(split));
    ASSERT_EQ(hash.Finish(), whole) << "split at " << split;
  }
}

// RFC 4231 test cases 1, 2, 3, 4, 6 and 7 (case 5 truncates the output).
TEST(HmacSha256Test, Rfc4231Vectors) {
  EXPECT_EQ(Hex(HmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(Hex(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(Hex(HmacSha256(std::string(20, '\xaa'), std::string(50, '\xdd'))),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
  EXPECT_EQ(Hex(HmacSha256(
                FromHex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
                std::string(50, '\xcd'))),
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
  EXPECT_EQ(
      Hex(HmacSha256(std::string(131, '\xaa'),
                     "Test Using Larger Than Block-Size Key - Hash Key First")),
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(
      Hex(HmacSha256(std::string(131, '\xaa'),
                     "This is a test using a larger than block-size key and a "
                     "larger than block-size data. The key needs to be hashed "
                     "before being used by the HMAC algorithm.")),
      "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

// The same digests as Python's hmac module for keys and messages of many
// lengths (around the 64-byte block in particular).
TEST(HmacSha256Test, AgreesWithPython) {
  std::mt19937 random(42);
  std::string script = "import hmac, hashlib\n";
  std::string expected;
  for (size_t key_size : {0, 1, 32, 63, 64, 65, 200}) {
    for (size_t message_size : {0, 1, 55, 56, 63, 64, 65, 1000}) {
      std::string key(key_size, '\0');
      std::string message(message_size, '\0');
      for (char& c : key) c = static_cast<char>(random());
      for (char& c : message) c = static_cast<char>(random());
      absl::StrAppend(&script, "print(hmac.new(bytes.fromhex('",
                      absl::BytesToHexString(key), "'), bytes.fromhex('",
                      absl::BytesToHexString(message),
                      "'), hashlib.sha256).hexdigest())\n");
      absl::StrAppend(&expected, Hex(HmacSha256(key, message)), "\n");
    }
  }
  absl::StatusOr<mp::testing::ProgramResult> python =
      mp::testing::RunProgram({"python3", "-c", script});
  ASSERT_TRUE(python.ok()) << python.status();
  ASSERT_EQ(python->exit_code, 0);
  EXPECT_EQ(python->output, expected);
}

TEST(ConstantTimeEqualsTest, ComparesContentsAndLengths) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("same", "same"));
  EXPECT_FALSE(ConstantTimeEquals("same", "sane"));
  EXPECT_FALSE(ConstantTimeEquals("same", "same!"));
  EXPECT_FALSE(
      ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

}  // namespace
}  // namespace mp::manager_internal
