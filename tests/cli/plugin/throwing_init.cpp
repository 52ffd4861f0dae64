// A plugin whose static initialisation throws, as one that reads its
// configuration at load time may: procactor names it, and validate exits 2.
#include <stdexcept>

namespace {

int configure() { throw std::runtime_error("clitest: the plugin's configuration is missing"); }

[[maybe_unused]] const int configured = configure();

}  // namespace
