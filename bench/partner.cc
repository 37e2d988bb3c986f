#include "bench/partner.h"

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace mp::bench {

void* MapSharedBytes(size_t bytes) {
  void* address = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (address == MAP_FAILED) {
    std::perror("bench: mmap");
    std::abort();
  }
  return address;
}

void UnmapSharedBytes(void* address, size_t bytes) { munmap(address, bytes); }

Partner::Partner(
    const std::function<void(const std::atomic<uint32_t>&)>& body)
    : stop_(MapShared<std::atomic<uint32_t>>()) {
  pid_ = fork();
  if (pid_ < 0) {
    std::perror("bench: fork");
    std::abort();
  }
  if (pid_ == 0) {
    body(*stop_);
    _exit(0);
  }
}

void Partner::Stop(const std::function<void()>& wake) {
  if (pid_ < 0) return;
  stop_->store(1);
  if (wake) wake();
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  UnmapShared(stop_);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "bench: partner process failed (status %d)\n",
                 status);
    std::abort();
  }
}

}  // namespace mp::bench
