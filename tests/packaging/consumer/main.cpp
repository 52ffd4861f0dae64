// A program built against an installed procactor (tests/packaging): it
// spawns one actor process and asks it a question. Prints "answer: 42".
#include <chrono>
#include <iostream>

#include <procactor/procactor.hpp>

struct Double {
  int value = 0;
  template <class A>
  void serialize(A& archive) {
    archive(value);
  }
};
PROCACTOR_MESSAGE(Double);

class Doubler : public procactor::Actor<Doubler, Double> {
 public:
  int on(const Double& d) { return d.value * 2; }
};
PROCACTOR_ACTOR(Doubler);

int main(int argc, char** argv) {
  procactor::Runtime runtime(argc, argv);  // first: the actor's process re-enters here
  auto doubler = runtime.spawn<Doubler>("doubler");
  const int answer = doubler.ask<int>(Double{21}, std::chrono::seconds(60)).get();
  std::cout << "answer: " << answer << std::endl;
  doubler.close();
  doubler.join();
  return answer == 42 ? 0 : 1;
}
