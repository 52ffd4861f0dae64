// Where a plugin of [graph] plugins is looked for (launcher/plugin_path.hpp):
// a path with a '/' against the graph's directory, as always; a bare file
// name in $PROCACTOR_PLUGIN_PATH, then next to the graph, then in the
// library directory of the running procactor.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "graph.hpp"
#include "graph_checks.hpp"
#include "plugin_path.hpp"

using namespace procactor::launcher;
namespace fs = std::filesystem;

namespace {

// A private directory tree for one test case, removed after it.
class scratch {
 public:
  scratch() {
    std::string pattern = (fs::temp_directory_path() / "procactor-plugin-path-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    root_ = pattern;
  }
  ~scratch() {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }
  scratch(const scratch&) = delete;
  scratch& operator=(const scratch&) = delete;

  fs::path dir(const std::string& name) const {
    fs::create_directories(root_ / name);
    return root_ / name;
  }
  fs::path file(const std::string& name) const {
    fs::create_directories((root_ / name).parent_path());
    std::ofstream(root_ / name) << "not really ELF\n";
    return root_ / name;
  }
  const fs::path& root() const { return root_; }

 private:
  fs::path root_;
};

// Sets an environment variable for one scope, and puts it back.
class env_var {
 public:
  env_var(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~env_var() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  env_var(const env_var&) = delete;
  env_var& operator=(const env_var&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("a plugin named by a file name alone is bare, one with a slash is a path") {
  CHECK(is_bare_plugin_name("libprocactor_examples.so"));
  CHECK_FALSE(is_bare_plugin_name("./libprocactor_examples.so"));
  CHECK_FALSE(is_bare_plugin_name("lib/libx.so"));
  CHECK_FALSE(is_bare_plugin_name("/abs/libx.so"));
  CHECK_FALSE(is_bare_plugin_name(""));
  CHECK_FALSE(is_bare_plugin_name(".."));
}

TEST_CASE("a path with a slash is resolved against the graph's directory and nowhere else") {
  const std::vector<fs::path> libs{"/opt/p/lib"};
  CHECK(plugin_candidates("../../build/lib/libx.so", "/src/examples/graphs", "/env/a:/env/b", libs) ==
        std::vector<fs::path>{"/src/build/lib/libx.so"});
  CHECK(plugin_candidates("./libx.so", "/g", "/env", libs) == std::vector<fs::path>{"/g/libx.so"});
  CHECK(plugin_candidates("/abs/libx.so", "/g", "/env", libs) == std::vector<fs::path>{"/abs/libx.so"});
}

TEST_CASE("a bare name is searched in PROCACTOR_PLUGIN_PATH then next to the graph then in procactor's lib") {
  const std::vector<fs::path> libs{"/opt/p/bin/../lib", "/opt/p/lib"};
  // Empty entries are skipped; duplicates are looked at once, first place kept.
  CHECK(plugin_candidates("libx.so", "/g", "/env/a::/env/b/:/g", libs) ==
        std::vector<fs::path>{"/env/a/libx.so", "/env/b/libx.so", "/g/libx.so", "/opt/p/lib/libx.so"});
  CHECK(plugin_candidates("libx.so", "/g", "", {}) == std::vector<fs::path>{"/g/libx.so"});
  // A relative entry is taken from the working directory.
  CHECK(plugin_candidates("libx.so", "/g", "rel", {}).front() == (fs::current_path() / "rel" / "libx.so"));
}

TEST_CASE("the first place that has the file wins") {
  scratch s;
  const fs::path env_a = s.dir("env-a");
  const fs::path env_b = s.dir("env-b");
  const fs::path graph = s.dir("graphs");
  const fs::path lib = s.dir("prefix/lib");
  const std::string search = env_a.string() + ":" + env_b.string();

  // Only in procactor's lib: found there.
  const fs::path in_lib = s.file("prefix/lib/libx.so");
  PluginLookup found = find_plugin("libx.so", graph, search, {lib});
  CHECK(found.found);
  CHECK(found.bare);
  CHECK(found.path == in_lib);
  // Next to the graph too: that one wins over the lib's.
  const fs::path in_graph = s.file("graphs/libx.so");
  found = find_plugin("libx.so", graph, search, {lib});
  CHECK(found.path == in_graph);
  // In the second directory of PROCACTOR_PLUGIN_PATH: it wins over both.
  const fs::path in_env_b = s.file("env-b/libx.so");
  found = find_plugin("libx.so", graph, search, {lib});
  CHECK(found.path == in_env_b);
  // A directory of that name is not a plugin: the search goes on.
  fs::create_directories(env_a / "libx.so");
  found = find_plugin("libx.so", graph, search, {lib});
  CHECK(found.path == in_env_b);
  CHECK(found.looked == std::vector<fs::path>{env_a / "libx.so", env_b / "libx.so", graph / "libx.so",
                                               lib / "libx.so"});
}

TEST_CASE("a bare name found nowhere lists every place looked, and stands for the graph directory's") {
  scratch s;
  const fs::path graph = s.dir("graphs");
  const PluginLookup lookup = find_plugin("libnothing.so", graph, "/no/such/dir", {s.root() / "lib"});
  CHECK_FALSE(lookup.found);
  CHECK(lookup.path == graph / "libnothing.so");
  CHECK(lookup.looked ==
        std::vector<fs::path>{"/no/such/dir/libnothing.so", graph / "libnothing.so", s.root() / "lib" / "libnothing.so"});
}

TEST_CASE("a path with a slash that is missing is looked for at that one place") {
  scratch s;
  const PluginLookup lookup = find_plugin("./libnothing.so", s.root(), "/env", {"/lib"});
  CHECK_FALSE(lookup.found);
  CHECK_FALSE(lookup.bare);
  CHECK(lookup.path == s.root() / "libnothing.so");
  CHECK(lookup.looked == std::vector<fs::path>{s.root() / "libnothing.so"});
}

TEST_CASE("procactor's own library directory is <exe dir>/../lib") {
  // This test program is build/bin/procactor_launcher_tests, as procactor is
  // build/bin/procactor: the examples' plugin is in build/lib.
  const std::vector<fs::path> directories = own_library_directories();
  REQUIRE_FALSE(directories.empty());
  const fs::path exe = fs::read_symlink("/proc/self/exe");
  CHECK(directories.front() == (exe.parent_path() / ".." / "lib").lexically_normal());
}

TEST_CASE("parse_graph finds a bare plugin name through PROCACTOR_PLUGIN_PATH and reports every place looked") {
  scratch s;
  const fs::path plugins = s.dir("plugins");
  const fs::path graph_dir = s.dir("graphs");
  const std::string text = "version = 1\n[graph]\nplugins = [\"libmine.so\"]\n[actors.a]\ntype = \"x.A\"\n";
  {
    env_var path("PROCACTOR_PLUGIN_PATH", plugins.string().c_str());
    const ParseResult missing = parse_graph_text(text, "t.toml", graph_dir);
    REQUIRE(missing.ok());
    const auto diagnostics = check_plugin_files(*missing.graph);
    REQUIRE(diagnostics.size() == 1);
    const std::string& message = diagnostics[0].message;
    CHECK_MESSAGE(message.starts_with("plugin 'libmine.so' not found (looked for "), message);
    // Each place, in order: the variable's directory, the graph's, then
    // procactor's lib; and how to add one.
    CHECK_MESSAGE(message.find("plugins/libmine.so") != std::string::npos, message);
    CHECK_MESSAGE(message.find("plugins/libmine.so") < message.find("graphs/libmine.so"), message);
    CHECK_MESSAGE(message.find("lib/libmine.so") != std::string::npos, message);
    CHECK_MESSAGE(message.find("PROCACTOR_PLUGIN_PATH") != std::string::npos, message);
    CHECK(missing.graph->plugins[0].looked.size() >= 3);

    const fs::path mine = s.file("plugins/libmine.so");
    const ParseResult found = parse_graph_text(text, "t.toml", graph_dir);
    REQUIRE(found.ok());
    CHECK(found.graph->plugins[0].path == mine);
    CHECK(found.graph->plugins[0].as_written == "libmine.so");
    CHECK(check_plugin_files(*found.graph).empty());
  }
  // Without the variable, the same graph looks next to itself first.
  env_var unset("PROCACTOR_PLUGIN_PATH", nullptr);
  const fs::path beside = s.file("graphs/libmine.so");
  const ParseResult found = parse_graph_text(text, "t.toml", graph_dir);
  REQUIRE(found.ok());
  CHECK(found.graph->plugins[0].path == beside);
}
