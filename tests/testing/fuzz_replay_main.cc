// The main of a fuzz target in ordinary builds: runs LLVMFuzzerTestOneInput
// on every file of the seed corpus (and of any directory or file given on
// the command line), so that each fuzz target is also a regression test of
// its corpus and of every crash found before (kept in the corpus).
//
// Built with `--config=fuzz` (clang), libFuzzer supplies main instead; see
// tests/testing/fuzz.bzl and tools/fuzz.sh.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

int RunFile(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(file)),
                          std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()),
                         bytes.size());
  return 1;
}

int Run(const std::filesystem::path& path) {
  if (!std::filesystem::is_directory(path)) return RunFile(path);
  std::vector<std::filesystem::path> files;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(path)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  int ran = 0;
  for (const auto& file : files) ran += RunFile(file);
  return ran;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> inputs(argv + 1, argv + argc);
  if (inputs.empty()) {
    const char* corpus = std::getenv("FUZZ_CORPUS");
    if (corpus == nullptr) {
      std::fprintf(stderr,
                   "fuzz replay: no corpus (set FUZZ_CORPUS or name files)\n");
      return 2;
    }
    inputs.push_back(corpus);
  }
  int ran = 0;
  for (const std::string& input : inputs) ran += Run(input);
  // Empty inputs too: the cheapest edge.
  LLVMFuzzerTestOneInput(nullptr, 0);
  std::printf("fuzz replay: %d inputs, no crash\n", ran);
  return ran > 0 ? 0 : 1;
}
