// The seed's PrintActor, one OS process per actor.
//
//   main ──Text──▶ [printer]   (a separate process)
#include <iostream>
#include <procactor/procactor.hpp>

struct Text {
  std::string value;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(value);
  }
};
PROCACTOR_MESSAGE(Text);

class Printer : public procactor::Actor<Printer, Text> {
 public:
  void on(const Text& text) { std::cout << "Got: " << text.value << '\n'; }
};
PROCACTOR_ACTOR(Printer);

int main(int argc, char** argv) {
  procactor::Runtime runtime(argc, argv);  // in the child process, this runs the actor
  auto printer = runtime.spawn<Printer>("printer");
  printer.send(Text{"Hello"});
  printer.send(Text{"World"});
  printer.close();  // what is queued is handled first
  printer.join();
}
