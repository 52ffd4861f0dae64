// The seed's Worker: submit(pow, 2, 3) runs in another process and returns a
// result to wait on.
//
//   main ──submit(power, 2, 3)──▶ [worker.0] ──8──▶ main
#include <cstdint>
#include <iostream>
#include <procactor/procactor.hpp>

std::int64_t power(std::int64_t base, std::int64_t exponent) {
  std::int64_t result = 1;
  while (exponent-- > 0) result *= base;
  return result;
}
PROCACTOR_FUNCTION(power);

int main(int argc, char** argv) {
  procactor::Runtime runtime(argc, argv);
  procactor::Worker worker(runtime);
  auto result = worker.submit(power, 2, 3);
  std::cout << result.get() << std::endl;
}
