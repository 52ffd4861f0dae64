// A plugin that loads but registers no actor type, as one built without
// PROCACTOR_ACTOR does: a graph that needs a type from it is told so.
#include <procactor/procactor.hpp>

namespace clitest {

struct Note {
  int value = 0;
  template <class A>
  void serialize(A& a) {
    a(value);
  }
};

}  // namespace clitest
PROCACTOR_MESSAGE(clitest::Note);
