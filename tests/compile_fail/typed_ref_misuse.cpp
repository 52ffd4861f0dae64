// Misuses of TypedRef, of spawn<A>, of an ActorRef given a type that is not
// a message or that cereal cannot write, and of Pool::submit given the
// wrong arguments, that must not compile (tests/compile_fail/CMakeLists.txt).
//
// Built with none of the PROCACTOR_MISUSE_* switches it compiles: the
// correct calls around each misuse are fine, so the failure of a build with
// one switch comes from the typed check that switch trips, and from nothing
// else in this file.
#include <chrono>
#include <procactor/procactor.hpp>
#include <string>

struct Add {
  int value = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(value);
  }
};
// Registered, so an ActorRef would send it; Calc has no handler for it.
struct Text {
  std::string value;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(value);
  }
};
PROCACTOR_MESSAGE(Add);
PROCACTOR_MESSAGE(Text);
// Serializable, but without its PROCACTOR_MESSAGE.
struct Loose {
  int value = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(value);
  }
};

// Registered, but with no serialize(): cereal has no way to write it.
struct Opaque {
  int value = 0;
};
PROCACTOR_MESSAGE(Opaque);

int scale(int value, int by) { return value * by; }
PROCACTOR_FUNCTION(scale);

class Calc : public procactor::Actor<Calc, Add> {
 public:
  int on(const Add& add) { return total_ += add.value; }

 private:
  int total_ = 0;
};
PROCACTOR_ACTOR(Calc);

// An actor class without its PROCACTOR_ACTOR.
class Unregistered : public procactor::Actor<Unregistered, Add> {
 public:
  void on(const Add&) {}
};

int main(int argc, char** argv) {
  procactor::Runtime runtime(argc, argv);
  const auto calc = runtime.spawn<Calc>("calc");
  const auto timeout = std::chrono::seconds(10);

  calc.send(Add{1});
  calc.send(Add{1}, timeout);
  if (calc.try_send(Add{1}) != procactor::errc::ok) return 1;
  const int total = calc.ask<int>(Add{1}, timeout).get() + calc.ask(Add{1}, timeout).get();
  // The untyped ref takes any registered message, as before.
  const procactor::ActorRef untyped = calc;
  untyped.send(Text{"dropped as unknown by Calc"});
  procactor::Worker worker(runtime);
  const int scaled = worker.submit(scale, 2, 3).get();

#if defined(PROCACTOR_MISUSE_SEND)
  calc.send(Text{"no handler"});
#elif defined(PROCACTOR_MISUSE_TRY_SEND)
  (void)calc.try_send(Text{"no handler"});
#elif defined(PROCACTOR_MISUSE_ASK_TYPE)
  (void)calc.ask<long>(Add{1}, timeout);  // on(const Add&) returns int
#elif defined(PROCACTOR_MISUSE_ASK)
  (void)calc.ask(Text{"no handler"}, timeout);
#elif defined(PROCACTOR_MISUSE_UNREGISTERED)
  (void)runtime.spawn<Unregistered>("unregistered");
#elif defined(PROCACTOR_MISUSE_UNREGISTERED_SEND)
  untyped.send(Loose{1});
#elif defined(PROCACTOR_MISUSE_UNREGISTERED_ASK)
  (void)untyped.ask<int>(Loose{1}, timeout);
#elif defined(PROCACTOR_MISUSE_NOT_SERIALIZABLE)
  untyped.send(Opaque{1});
#elif defined(PROCACTOR_MISUSE_SUBMIT_ARITY)
  (void)worker.submit(scale, 2);
#elif defined(PROCACTOR_MISUSE_SUBMIT_ARGUMENT)
  (void)worker.submit(scale, 2, std::string("3"));
#endif

  calc.close();
  calc.join();
  return total > 0 && scaled == 6 ? 0 : 1;
}
