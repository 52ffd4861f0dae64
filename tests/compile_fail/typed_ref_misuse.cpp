// Misuses of TypedRef, of spawn<A>, and of an ActorRef given a type that is
// not a message, that must not compile (tests/compile_fail/CMakeLists.txt).
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
#endif

  calc.close();
  calc.join();
  return total > 0 ? 0 : 1;
}
