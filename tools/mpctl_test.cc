// Runs the real mpctl binary against real segments and a real manager.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "manager/manager.h"
#include "shm/shared_memory.h"
#include "tests/testing/eventually.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"

namespace mp {
namespace {

using ::mp::testing::IsOk;
using ::mp::testing::ProgramResult;
using ::testing::HasSubstr;
using ::testing::Not;

// mpctl with `args`, its standard error folded into the output.
ProgramResult Mpctl(const std::string& args) {
  const std::string command =
      absl::StrCat(mp::testing::RunfilePath("tools/mpctl"), " ", args, " 2>&1");
  absl::StatusOr<ProgramResult> result =
      mp::testing::RunProgram({"/bin/sh", "-c", command});
  EXPECT_THAT(result, IsOk());
  return result.ok() ? *result : ProgramResult{-1, ""};
}

bool SegmentExists(const std::string& name) {
  struct stat info;
  return stat(absl::StrCat("/dev/shm/", name).c_str(), &info) == 0;
}

std::string WriteKeyFile(const std::string& key) {
  const std::string path =
      absl::StrCat(::testing::TempDir(), "/mpctl-key-", getpid());
  std::ofstream(path, std::ios::binary) << key;
  return path;
}

TEST(MpctlTest, ShmLsShowsSizeCreatorAndWhetherItLives) {
  // Ours, alive.
  absl::StatusOr<SharedMemory> live = SharedMemory::Create(12345);
  ASSERT_THAT(live, IsOk());
  // A child's, left behind when it died without unlinking.
  int pipe_ends[2];
  ASSERT_EQ(pipe(pipe_ends), 0);
  absl::StatusOr<int> code = mp::testing::ForkAndWait([&] {
    absl::StatusOr<SharedMemory> orphan = SharedMemory::Create(4096);
    if (!orphan.ok()) return 1;
    const std::string name = absl::StrCat(orphan->name(), " ", getpid(), "\n");
    if (write(pipe_ends[1], name.data(), name.size()) !=
        static_cast<ssize_t>(name.size())) {
      return 2;
    }
    _exit(0);  // No unlink.
  });
  ASSERT_THAT(code, mp::testing::IsOkAndHolds(0));
  char buffer[300] = {};
  ASSERT_GT(read(pipe_ends[0], buffer, sizeof buffer - 1), 0);
  close(pipe_ends[0]);
  close(pipe_ends[1]);
  const std::vector<std::string> reported =
      absl::StrSplit(buffer, absl::ByAnyChar(" \n"));
  ASSERT_GE(reported.size(), 2u);
  const std::string orphan = reported[0];
  const std::string orphan_pid = reported[1];
  ASSERT_TRUE(SegmentExists(orphan));

  ProgramResult listed = Mpctl("shm ls");
  EXPECT_EQ(listed.exit_code, 0) << listed.output;
  std::string live_line, orphan_line;
  for (absl::string_view line : absl::StrSplit(listed.output, '\n')) {
    if (absl::StartsWith(line, live->name() + " "))
      live_line = std::string(line);
    if (absl::StartsWith(line, orphan + " ")) orphan_line = std::string(line);
  }
  EXPECT_THAT(live_line, HasSubstr(" 12345 "));
  EXPECT_THAT(live_line, HasSubstr(absl::StrCat(" ", getpid(), " alive")));
  EXPECT_THAT(orphan_line, HasSubstr(" 4096 "));
  EXPECT_THAT(orphan_line, HasSubstr(" dead"));

  // gc takes the orphan and leaves the live one. (Each limited to one
  // creator: other tests running beside this one have segments too.)
  ProgramResult kept = Mpctl(absl::StrCat("shm gc --creator ", getpid()));
  EXPECT_EQ(kept.exit_code, 0) << kept.output;
  EXPECT_THAT(kept.output, Not(HasSubstr(live->name())));
  ProgramResult collected =
      Mpctl(absl::StrCat("shm gc --creator=", orphan_pid));
  EXPECT_EQ(collected.exit_code, 0) << collected.output;
  EXPECT_THAT(collected.output, HasSubstr(absl::StrCat("removed ", orphan)));
  EXPECT_FALSE(SegmentExists(orphan));
  EXPECT_TRUE(SegmentExists(live->name()));

  // rm by name, Python's spelling or POSIX's; a second time it is gone.
  ProgramResult removed = Mpctl(absl::StrCat("shm rm /", live->name()));
  EXPECT_EQ(removed.exit_code, 0) << removed.output;
  EXPECT_FALSE(SegmentExists(live->name()));
  ProgramResult again = Mpctl(absl::StrCat("shm rm ", live->name()));
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.output, HasSubstr("NOT_FOUND"));
  EXPECT_THAT(again.output, HasSubstr(live->name()));
}

TEST(MpctlTest, UsageErrorsAndHelp) {
  EXPECT_EQ(Mpctl("").exit_code, 2);
  ProgramResult unknown = Mpctl("shm frobnicate");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.output, HasSubstr("no verb \"shm frobnicate\""));
  EXPECT_EQ(Mpctl("shm rm").exit_code, 2);
  EXPECT_EQ(Mpctl("shm ls extra").exit_code, 2);
  ProgramResult help = Mpctl("shm gc --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.output, HasSubstr("creating process is\n  gone"));
  ProgramResult stats_help = Mpctl("manager stats --help");
  EXPECT_THAT(stats_help.output, HasSubstr("calls served"));
  ProgramResult no_key = Mpctl("manager ping /tmp/nowhere");
  EXPECT_EQ(no_key.exit_code, 2);
  EXPECT_THAT(no_key.output, HasSubstr("--authkey-file is required"));
  ProgramResult bad_key_file =
      Mpctl("manager ping /tmp/nowhere --authkey-file /no/such/file");
  EXPECT_EQ(bad_key_file.exit_code, 1);
  EXPECT_THAT(bad_key_file.output, HasSubstr("cannot read the authkey file"));
}

TEST(MpctlTest, ManagerPingAndStatsAgainstARealServer) {
  absl::StatusOr<SyncManager> manager = Manager();
  ASSERT_THAT(manager, IsOk());
  absl::StatusOr<DictProxy> d = manager->Dict();
  absl::StatusOr<ListProxy> l = manager->List();
  ASSERT_THAT(d, IsOk());
  ASSERT_THAT(l, IsOk());
  const std::string key_file = WriteKeyFile(manager->authkey());
  const std::string flags = absl::StrCat(" --authkey-file ", key_file);

  ProgramResult pinged =
      Mpctl(absl::StrCat("manager ping ", manager->address(), flags));
  EXPECT_EQ(pinged.exit_code, 0) << pinged.output;
  EXPECT_EQ(pinged.output, "ok\n");
  ProgramResult stats =
      Mpctl(absl::StrCat("manager stats ", manager->address(), flags));
  EXPECT_EQ(stats.exit_code, 0) << stats.output;
  EXPECT_THAT(stats.output,
              HasSubstr(absl::StrCat("pid ", manager->pid(), "\n")));
  EXPECT_THAT(stats.output, HasSubstr("objects 2\n"));
  EXPECT_THAT(stats.output, HasSubstr("  dict 1\n"));
  EXPECT_THAT(stats.output, HasSubstr("  list 1\n"));

  // A wrong key is refused, and counted by the server.
  const std::string wrong = WriteKeyFile("not the key");
  ProgramResult refused = Mpctl(absl::StrCat(
      "manager ping ", manager->address(), " --authkey-file ", wrong));
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.output, HasSubstr("PERMISSION_DENIED"));
  ProgramResult nobody =
      Mpctl(absl::StrCat("manager ping /tmp/no-manager-here", flags));
  EXPECT_EQ(nobody.exit_code, 1);
  EXPECT_THAT(nobody.output, HasSubstr("UNAVAILABLE"));
  std::remove(key_file.c_str());
  std::remove(wrong.c_str());
}

// `mpctl manager serve` on `socket`, in a child of ours so that a test can
// signal it.
absl::StatusOr<mp::testing::ForkedChild> StartServe(
    const std::string& socket, const std::string& key_file) {
  return mp::testing::ForkedChild::Start([&] {
    const std::string binary = mp::testing::RunfilePath("tools/mpctl");
    const std::string key_flag = absl::StrCat("--authkey-file=", key_file);
    const std::string address_flag = absl::StrCat("--address=", socket);
    execl(binary.c_str(), binary.c_str(), "manager", "serve",
          address_flag.c_str(), key_flag.c_str(), static_cast<char*>(nullptr));
    return 127;
  });
}

// A client of the exec'd server, once it has bound its socket.
absl::StatusOr<SyncManager> ConnectOnceServing(const std::string& socket,
                                               const std::string& key) {
  absl::StatusOr<SyncManager> client = absl::UnavailableError("not yet");
  mp::testing::Eventually([&] {
    client = SyncManager::Connect(socket, key);
    return client.ok();
  });
  return client;
}

TEST(MpctlTest, ManagerServeServesUntilSignalled) {
  const std::string key_file = WriteKeyFile("a key for serve");
  // Short: a socket path holds at most 107 bytes, fewer than TempDir's.
  char directory[] = "/tmp/mpctl-test-XXXXXX";
  ASSERT_NE(mkdtemp(directory), nullptr);
  const std::string socket = absl::StrCat(directory, "/manager");
  absl::StatusOr<mp::testing::ForkedChild> server =
      StartServe(socket, key_file);
  ASSERT_THAT(server, IsOk());
  absl::StatusOr<SyncManager> client =
      ConnectOnceServing(socket, "a key for serve");
  ASSERT_THAT(client, IsOk());
  absl::StatusOr<DictProxy> d = client->Dict();
  ASSERT_THAT(d, IsOk());
  ASSERT_THAT(d->SetItem("served", 1), IsOk());
  EXPECT_THAT(d->GetItem<int>("served"), mp::testing::IsOkAndHolds(1));
  ASSERT_EQ(kill(server->pid(), SIGTERM), 0);
  EXPECT_THAT(server->Wait(), mp::testing::IsOkAndHolds(0));
  struct stat info;
  EXPECT_NE(stat(socket.c_str(), &info), 0);  // Its socket went with it.
  rmdir(directory);
  std::remove(key_file.c_str());
}

// SIGKILLed, the server cannot remove its socket; the resource tracker of
// its process tree (mpctl alone) does, so the address can be served again.
TEST(MpctlTest, AKilledServersSocketIsRemovedByItsTracker) {
  const std::string key_file = WriteKeyFile("a key for a killed server");
  char directory[] = "/tmp/mpctl-test-XXXXXX";
  ASSERT_NE(mkdtemp(directory), nullptr);
  const std::string socket = absl::StrCat(directory, "/manager");
  absl::StatusOr<mp::testing::ForkedChild> server =
      StartServe(socket, key_file);
  ASSERT_THAT(server, IsOk());
  absl::StatusOr<SyncManager> client =
      ConnectOnceServing(socket, "a key for a killed server");
  ASSERT_THAT(client, IsOk());
  EXPECT_THAT(server->Kill(SIGKILL), mp::testing::IsOkAndHolds(-SIGKILL));
  struct stat info;
  EXPECT_TRUE(mp::testing::Eventually([&] {
    return stat(socket.c_str(), &info) != 0;
  })) << socket
      << " outlived its killed server";
  EXPECT_EQ(rmdir(directory), 0);
  std::remove(key_file.c_str());
}

}  // namespace
}  // namespace mp
