// The seed's Value and Array program: a child stores pi and negates the
// array; the parent sees both.
//
//   num = Value('d', 0.0); arr = Array('i', range(10))
//   p = Process(target=f, args=(num, arr)); p.start(); p.join()
//   print(num.value)   # 3.1415927
//   print(arr[:])      # [0, -1, -2, -3, -4, -5, -6, -7, -8, -9]

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <vector>

#include "absl/strings/str_join.h"
#include "multiprocess.h"

namespace {

void F(mp::Value<double> n, mp::Array<int32_t> a) {
  n.set_value(3.1415927);
  for (int64_t i = 0; i < static_cast<int64_t>(a.size()); ++i) {
    if (!a.Set(i, -*a.at(i)).ok()) std::exit(2);
  }
}

}  // namespace

int main() {
  mp::Value<double> num(0.0);
  mp::Array<int32_t> arr({0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  mp::Process p(F, num, arr);
  if (absl::Status started = p.Start(); !started.ok()) {
    std::cerr << started << "\n";
    return 1;
  }
  p.Join();
  std::cout.precision(8);
  std::cout << num.value() << "\n";
  std::cout << "[" << absl::StrJoin(arr.ToVector(), ", ") << "]\n";
  return p.exitcode().value_or(1);
}
