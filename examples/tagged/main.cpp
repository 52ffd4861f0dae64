// The seed's TaggedActor: each message type has its handler (do_<tag>).
//
//   main ──A(1)──▶ [tagged]   prints "Running A 1"
//        ──B(2,3)─▶           prints "Running B 2 3"
#include <iostream>
#include <procactor/procactor.hpp>

struct A {
  int x = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(x);
  }
};
struct B {
  int x = 0;
  int y = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(x, y);
  }
};
PROCACTOR_MESSAGE(A);
PROCACTOR_MESSAGE(B);

class Tagged : public procactor::Actor<Tagged, A, B> {
 public:
  void on(const A& a) { std::cout << "Running A " << a.x << std::endl; }
  void on(const B& b) { std::cout << "Running B " << b.x << ' ' << b.y << std::endl; }
};
PROCACTOR_ACTOR(Tagged);

int main(int argc, char** argv) {
  procactor::Runtime runtime(argc, argv);
  auto tagged = runtime.spawn<Tagged>("tagged");
  tagged.send(A{1});
  tagged.send(B{2, 3});
  tagged.close();
  tagged.join();
}
