// Interoperability with numpy over CPython's
// multiprocessing.shared_memory.SharedMemory, through real python3
// processes (Debian's python3-numpy, which ./bazelw installs): a segment
// made by either side is an int64 numpy array on the Python side and a
// `View<int64_t>` here, and each side sees what the other wrote.

#include <cstdint>
#include <span>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shm/shared_memory.h"
#include "tests/testing/segments.h"
#include "tests/testing/subprocess.h"

namespace mp {
namespace {

using ::mp::testing::ScopedUnlink;
using ::testing::ElementsAre;

// Python 3.11 registers every segment it opens with its resource tracker,
// which would unlink it when the script exits (python/cpython#82300); the
// test owns these segments, so each script unregisters what it opens.
constexpr char kPrelude[] = R"(
import sys
import numpy as np
from multiprocessing import resource_tracker
from multiprocessing.shared_memory import SharedMemory
def untrack(shm):
    resource_tracker.unregister(shm._name, "shared_memory")
)";

// Runs `script` after kPrelude with `argument` as sys.argv[1]; returns its
// standard output, failing the test when the script fails.
std::string RunPython(const std::string& script, const std::string& argument) {
  absl::StatusOr<std::string> output =
      mp::testing::RunPython(absl::StrCat(kPrelude, script), {argument});
  EXPECT_TRUE(output.ok()) << output.status();
  return output.ok() ? *output : "";
}

TEST(SharedMemoryNumpyTest, PythonEditsAnArrayMadeInCpp) {
  absl::StatusOr<SharedMemory> shm = SharedMemory::Create(5 * sizeof(int64_t));
  ASSERT_TRUE(shm.ok()) << shm.status();
  ScopedUnlink unlink(shm->name());
  absl::StatusOr<std::span<int64_t>> array = shm->View<int64_t>(5);
  ASSERT_TRUE(array.ok()) << array.status();
  for (int64_t i = 0; i < 5; ++i) (*array)[i] = i + 1;

  const std::string output = RunPython(R"(
shm = SharedMemory(name=sys.argv[1])
untrack(shm)
array = np.ndarray((5,), dtype=np.int64, buffer=shm.buf)
print(array)
array += 10
del array
shm.close()
)",
                                       shm->name());
  EXPECT_EQ(output, "[1 2 3 4 5]\n");
  EXPECT_THAT(*array, ElementsAre(11, 12, 13, 14, 15));
}

TEST(SharedMemoryNumpyTest, CppEditsAnArrayMadeInPython) {
  const std::string created = RunPython(R"(
data = np.array([1, 2, 3, 4, 5], dtype=np.int64)
shm = SharedMemory(create=True, size=data.nbytes)
untrack(shm)
np.ndarray(data.shape, dtype=data.dtype, buffer=shm.buf)[:] = data[:]
print(shm.name)
shm.close()
)",
                                        "");
  const std::string name(absl::StripTrailingAsciiWhitespace(created));
  ASSERT_FALSE(name.empty());
  ScopedUnlink unlink(name);

  absl::StatusOr<SharedMemory> shm = SharedMemory::Attach(name);
  ASSERT_TRUE(shm.ok()) << shm.status();
  absl::StatusOr<std::span<int64_t>> array = shm->View<int64_t>(5);
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_THAT(*array, ElementsAre(1, 2, 3, 4, 5));
  for (int64_t& x : *array) x *= -2;

  EXPECT_EQ(RunPython(R"(
shm = SharedMemory(name=sys.argv[1])
untrack(shm)
array = np.ndarray((5,), dtype=np.int64, buffer=shm.buf)
print(array)
del array
shm.close()
)",
                      name),
            "[ -2  -4  -6  -8 -10]\n");
}

}  // namespace
}  // namespace mp
