#include "graph.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <thread>
#include <utility>

#include <toml++/toml.h>

#include "did_you_mean.hpp"
#include "host_limits.hpp"
#include "names.hpp"
#include "plugin_path.hpp"
#include "units.hpp"

namespace procactor::launcher {

namespace {

using namespace std::string_view_literals;

constexpr std::array top_level_keys{"version"sv, "graph"sv,  "supervisor"sv, "groups"sv,
                                    "actors"sv,  "routes"sv, "cluster"sv};
constexpr std::array graph_keys{"name"sv, "plugins"sv, "mailbox_capacity"sv, "shutdown_timeout"sv};
constexpr std::array supervisor_keys{"strategy"sv,        "max_restarts"sv, "within"sv,       "backoff_initial"sv,
                                     "backoff_max"sv,     "min_uptime"sv,   "stall_timeout"sv};
constexpr std::array group_keys{"strategy"sv, "max_restarts"sv, "within"sv, "parent"sv};
// New keys go last: did_you_mean breaks ties by order, and the older keys'
// suggestions should not change under them.
constexpr std::array actor_keys{"type"sv,    "replicas"sv,         "cpu"sv,  "params"sv,       "restart"sv,
                                "group"sv,   "mailbox_capacity"sv, "nice"sv, "memory_limit"sv, "node"sv,
                                "nodes"sv};
constexpr std::array route_keys{"from"sv, "to"sv, "policy"sv, "key"sv};
constexpr std::array cluster_keys{"nodes"sv, "launcher"sv, "mpi_args"sv, "gateway_spin"sv, "start_timeout"sv};
constexpr std::array node_keys{"name"sv, "host"sv};

// Why `host` cannot be a host for mpirun's --host, srun's host file and
// ssh (a blank, a comma or a colon would be read as a list or a slot
// count; a leading '-' as an option); nullopt when it can.
std::optional<std::string> bad_host(std::string_view host) {
  const auto allowed = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == '_';
  };
  for (char c : host) {
    if (allowed(c)) continue;
    if (c == ' ' || c == '\t') return std::string("has a blank");
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return std::string("has a character other than those");
    }
    return std::string("has '") + c + "'";
  }
  if (host.front() == '-' || host.front() == '.') return std::string("begins with '") + host.front() + "'";
  return std::nullopt;
}

// The launchers that start one node supervisor per node; the first is the default.
constexpr std::array cluster_launchers{"mpirun"sv, "srun"sv};

// The values a file may choose from, spelt as the library spells them
// (procactor::to_string).
constexpr std::array strategies{Strategy::one_for_one, Strategy::one_for_all, Strategy::rest_for_one};
constexpr std::array restarts{Restart::permanent, Restart::transient, Restart::temporary};
constexpr std::array route_policies{RoutePolicy::round_robin, RoutePolicy::broadcast, RoutePolicy::key_hash,
                                    RoutePolicy::random, RoutePolicy::least_loaded};
constexpr std::array auto_word{"auto"sv};
constexpr std::array spread_word{"spread"sv};

// Forking thousands of processes is never what a graph file means; a cap
// turns a typo ("replicas = 10000") into an error instead of a fork bomb.
// One actor may take a whole run; all of them together are checked too.
constexpr std::int64_t max_replicas = max_instances_per_run;
// A mailbox smaller than a page cannot hold a useful batch of messages.
constexpr std::uint64_t min_mailbox_capacity = 4096;
constexpr std::int64_t max_max_restarts = 1'000'000;
// The runtime counts time in milliseconds.
constexpr std::chrono::nanoseconds runtime_tick = std::chrono::milliseconds(1);

std::string quote_list(std::span<const std::string_view> names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i != 0) {
      out += (i + 1 == names.size()) ? " or " : ", ";
    }
    out += names[i];
  }
  return out;
}

// " (did you mean 'X'?)" when `word` is close to one of `known`, else
// " (otherwise)".
std::string suggestion_or(std::string_view word, std::span<const std::string_view> known, std::string_view otherwise) {
  const std::string suggestion = did_you_mean(word, known);
  return suggestion.empty() ? " (" + std::string(otherwise) + ")" : suggestion;
}

std::string_view article_and_name(toml::node_type type) {
  switch (type) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::none: break;
  }
  return "nothing";
}

SourcePosition position_of(const toml::source_region& region) {
  SourcePosition position{.line = region.begin.line, .column = region.begin.column, .length = 1};
  if (region.end.line == region.begin.line && region.end.column > region.begin.column) {
    position.length = region.end.column - region.begin.column;
  }
  return position;
}

// toml++ says "Error while parsing key-value pair: cannot redefine ...";
// the position already says where, so keep only what went wrong.
std::string describe_syntax_error(std::string_view description) {
  constexpr std::string_view prefix = "Error while parsing ";
  if (description.starts_with(prefix)) {
    const std::size_t colon = description.find(": ");
    if (colon != std::string_view::npos) {
      description.remove_prefix(colon + 2);
    }
  }
  return "invalid TOML: " + std::string(description);
}

// Where the first byte that does not begin or continue a well-formed UTF-8
// character (RFC 3629: no overlong forms, surrogates or code points past
// U+10FFFF) stands, and that byte; nullopt when the text is UTF-8.
// toml++ finds the same, but says where its line ends.
std::optional<std::pair<SourcePosition, unsigned char>> first_bad_utf8(std::string_view text) {
  constexpr std::array<char32_t, 5> smallest = {0, 0, 0x80, 0x800, 0x10000};
  std::uint32_t line = 1;
  std::uint32_t column = 1;
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const std::size_t n = lead < 0x80           ? 1
                          : (lead & 0xE0) == 0xC0 ? 2
                          : (lead & 0xF0) == 0xE0 ? 3
                          : (lead & 0xF8) == 0xF0 ? 4
                                                  : 0;
    bool ok = n != 0 && i + n <= text.size();
    char32_t code = n == 1 ? lead : n == 2 ? lead & 0x1F : n == 3 ? lead & 0x0F : lead & 0x07;
    for (std::size_t k = 1; ok && k < n; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      ok = (next & 0xC0) == 0x80;
      code = (code << 6) | (next & 0x3F);
    }
    if (ok && n > 1) ok = code >= smallest[n] && code <= 0x10FFFF && (code < 0xD800 || code > 0xDFFF);
    if (!ok) return std::make_pair(SourcePosition{.line = line, .column = column}, lead);
    if (lead == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
    i += n;
  }
  return std::nullopt;
}

// One table's entries in the order the file wrote them: toml++ keeps keys
// sorted, but actors must start, and errors must read, in file order.
using Entry = std::pair<const toml::key*, const toml::node*>;

std::vector<Entry> in_file_order(const toml::table& table) {
  std::vector<Entry> entries;
  entries.reserve(table.size());
  for (auto&& [key, node] : table) {
    entries.emplace_back(&key, &node);
  }
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    const auto& x = a.first->source().begin;
    const auto& y = b.first->source().begin;
    return std::tie(x.line, x.column) < std::tie(y.line, y.column);
  });
  return entries;
}

class Parser {
 public:
  Parser(const SourceFile& source, std::filesystem::path base_directory)
      : source_(source), base_directory_(std::move(base_directory)) {}

  ParseResult run() {
    ParseResult result;
    toml::table root;
    if (const auto bad = first_bad_utf8(source_.text())) {
      char byte[8];
      std::snprintf(byte, sizeof byte, "0x%02X", bad->second);
      error(bad->first, std::string("invalid TOML: not UTF-8 text: byte ") + byte +
                            " cannot begin or continue a character here");
      result.diagnostics = std::move(diagnostics_);
      return result;
    }
    try {
      root = toml::parse(source_.text(), source_.path());
    } catch (const toml::parse_error& failure) {
      error(position_of(failure.source()), describe_syntax_error(failure.description()));
      result.diagnostics = std::move(diagnostics_);
      return result;
    }
    graph_.source = source_;
    graph_.name = std::filesystem::path(source_.path()).stem().string();
    GroupSpec top;
    top.name = root_group_name;
    graph_.groups.push_back(std::move(top));

    // A file of another version follows rules this one does not know: its
    // version is the one thing said about it.
    if (!read_version(root)) {
      result.diagnostics = std::move(diagnostics_);
      return result;
    }
    check_keys(root, top_level_keys, "at the top level");
    if (const toml::table* table = table_at(root, "graph", "'graph'", "[graph]")) {
      read_graph_table(*table);
    }
    // Without a name of its own the graph is named after its file, and the
    // name names its runs (`procactor status NAME`): the same rule holds.
    if (!named_ && !is_valid_name(graph_.name)) {
      error(SourcePosition{.line = 1, .column = 1},
            "the graph has no 'name' in [graph], and its file's name cannot be one: " +
                invalid_name_message("graph name", graph_.name) + "; give [graph] a name");
    }
    if (const toml::table* table = table_at(root, "supervisor", "'supervisor'", "[supervisor]")) {
      read_supervisor(*table);
    }
    if (const toml::table* table = table_at(root, "groups", "'groups'", "[groups.NAME]")) {
      read_groups(*table);
    }
    check_group_tree();
    // Before the actors, whose `node` and `nodes` name its nodes.
    if (const toml::table* table = table_at(root, "cluster", "'cluster'", "[cluster]")) {
      read_cluster(*table);
    }
    cluster_written_ = root.get("cluster") != nullptr;
    read_actors(root);
    check_instance_count();
    read_routes(root);
    check_route_graph();
    if (diagnostics_.empty()) {
      check_arena_size();
    }

    if (diagnostics_.empty()) {
      result.graph = std::move(graph_);
    } else {
      sort_by_position(diagnostics_);
      result.diagnostics = std::move(diagnostics_);
      result.partial = std::move(graph_);
    }
    return result;
  }

 private:
  void error(SourcePosition where, std::string message) {
    diagnostics_.push_back(source_.error_at(where, std::move(message)));
  }

  void check_keys(const toml::table& table, std::span<const std::string_view> known, std::string_view where) {
    for (const auto& [key, node] : in_file_order(table)) {
      const std::string_view name = key->str();
      if (std::find(known.begin(), known.end(), name) != known.end()) {
        continue;
      }
      error(position_of(key->source()),
            "unknown key '" + std::string(name) + "' " + std::string(where) + did_you_mean(name, known));
    }
  }

  void wrong_type(const toml::node& node, std::string_view what, std::string_view expected) {
    error(position_of(node.source()), std::string(what) + " must be " + std::string(expected) + ", not " +
                                          std::string(article_and_name(node.type())));
  }

  // `node` as a T (toml::array or toml::table) holding something, or null
  // when it is of another type (reported as not `expected`) or empty
  // (reported as `when_empty`, at the value).
  template <class T>
  const T* nonempty(const toml::node& node, std::string_view what, std::string_view expected,
                    const std::string& when_empty) {
    const T* value = node.template as<T>();
    if (value == nullptr) {
      wrong_type(node, what, expected);
      return nullptr;
    }
    if (value->empty()) {
      error(position_of(node.source()), when_empty);
      return nullptr;
    }
    return value;
  }

  // The sub-table at `key`, or null when absent or not a table (reported).
  const toml::table* table_at(const toml::table& parent, std::string_view key, std::string_view what,
                              std::string_view how_to_write) {
    const toml::node* node = parent.get(key);
    if (node == nullptr) {
      return nullptr;
    }
    if (const toml::table* table = node->as_table()) {
      return table;
    }
    wrong_type(*node, what, "a table (write " + std::string(how_to_write) + ")");
    return nullptr;
  }

  std::optional<std::string> string_at(const toml::table& table, std::string_view key, std::string_view where) {
    const toml::node* node = table.get(key);
    if (node == nullptr) {
      return std::nullopt;
    }
    if (const auto* value = node->as_string()) {
      return value->get();
    }
    wrong_type(*node, "'" + std::string(key) + "' " + std::string(where), "a string");
    return std::nullopt;
  }

  std::optional<std::int64_t> integer_at(const toml::table& table, std::string_view key, std::string_view where,
                                         std::int64_t low, std::int64_t high) {
    const toml::node* node = table.get(key);
    if (node == nullptr) {
      return std::nullopt;
    }
    const auto* value = node->as_integer();
    if (value == nullptr) {
      wrong_type(*node, "'" + std::string(key) + "' " + std::string(where), "an integer");
      return std::nullopt;
    }
    if (value->get() < low || value->get() > high) {
      error(position_of(node->source()), "'" + std::string(key) + "' " + std::string(where) + " must be between " +
                                             std::to_string(low) + " and " + std::to_string(high) + ", not " +
                                             std::to_string(value->get()));
      return std::nullopt;
    }
    return value->get();
  }

  std::optional<std::chrono::nanoseconds> duration_at(const toml::table& table, std::string_view key,
                                                      std::string_view where, bool allow_zero) {
    const toml::node* node = table.get(key);
    if (node == nullptr) {
      return std::nullopt;
    }
    const std::string what = "'" + std::string(key) + "' " + std::string(where);
    const auto* text = node->as_string();
    if (text == nullptr) {
      wrong_type(*node, what, "a duration string such as \"5s\" or \"250ms\"");
      return std::nullopt;
    }
    Parsed<std::chrono::nanoseconds> parsed = parse_duration(text->get());
    if (!parsed) {
      error(position_of(node->source()), parsed.error);
      return std::nullopt;
    }
    if (!allow_zero && parsed.value->count() == 0) {
      error(position_of(node->source()), what + " must be longer than zero");
      return std::nullopt;
    }
    return parsed.value;
  }

  // A duration the runtime takes, in whole milliseconds; its text is kept
  // under `key_path` so that messages can echo it as written.
  std::optional<std::chrono::milliseconds> runtime_duration_at(const toml::table& table, std::string_view key,
                                                               std::string_view where, bool allow_zero,
                                                               const std::string& key_path) {
    const auto duration = duration_at(table, key, where, allow_zero);
    if (!duration) {
      return std::nullopt;
    }
    const toml::node* node = table.get(key);
    const std::string text = node->as_string()->get();
    if (duration->count() % runtime_tick.count() != 0) {
      error(position_of(node->source()), "'" + std::string(key) + "' " + std::string(where) +
                                             " must be a whole number of milliseconds, not '" + text +
                                             "' (the runtime counts in milliseconds)");
      return std::nullopt;
    }
    graph_.durations_as_written[key_path] = text;
    return std::chrono::duration_cast<std::chrono::milliseconds>(*duration);
  }

  // Sizes may be written as a bare TOML integer of bytes, or as a string
  // with a unit.
  std::optional<std::uint64_t> size_at(const toml::table& table, std::string_view key, std::string_view where,
                                       std::uint64_t minimum) {
    const toml::node* node = table.get(key);
    if (node == nullptr) {
      return std::nullopt;
    }
    const std::string what = "'" + std::string(key) + "' " + std::string(where);
    std::optional<std::uint64_t> bytes;
    if (const auto* integer = node->as_integer()) {
      if (integer->get() < 0) {
        error(position_of(node->source()), what + " must not be negative");
        return std::nullopt;
      }
      bytes = static_cast<std::uint64_t>(integer->get());
    } else if (const auto* text = node->as_string()) {
      Parsed<std::uint64_t> parsed = parse_size(text->get());
      if (!parsed) {
        error(position_of(node->source()), parsed.error);
        return std::nullopt;
      }
      bytes = parsed.value;
    } else {
      wrong_type(*node, what, "a size such as \"64KiB\" or a number of bytes");
      return std::nullopt;
    }
    if (*bytes < minimum) {
      error(position_of(node->source()),
            what + " must be at least " + format_size(minimum) + ", not " + format_size(*bytes));
      return std::nullopt;
    }
    return bytes;
  }

  // One of `names`, returned as its index.
  template <std::size_t N>
  std::optional<std::size_t> choice_at(const toml::table& table, std::string_view key, std::string_view where,
                                       const std::array<std::string_view, N>& names) {
    const toml::node* node = table.get(key);
    if (node == nullptr) {
      return std::nullopt;
    }
    const auto* text = node->as_string();
    if (text == nullptr) {
      wrong_type(*node, "'" + std::string(key) + "' " + std::string(where), "a string");
      return std::nullopt;
    }
    const std::string_view value = text->get();
    const auto found = std::find(names.begin(), names.end(), value);
    if (found != names.end()) {
      return static_cast<std::size_t>(found - names.begin());
    }
    std::string message = "unknown " + std::string(key) + " '" + std::string(value) + "'";
    const std::string suggestion = did_you_mean(value, names);
    message += suggestion.empty() ? " (expected " + quote_list(names) + ")" : suggestion;
    error(position_of(node->source()), std::move(message));
    return std::nullopt;
  }

  // One of the library's `values`, chosen by its name.
  template <class E, std::size_t N>
  std::optional<E> enum_at(const toml::table& table, std::string_view key, std::string_view where,
                           const std::array<E, N>& values) {
    std::array<std::string_view, N> names;
    for (std::size_t i = 0; i < N; ++i) {
      names[i] = to_string(values[i]);
    }
    const auto index = choice_at(table, key, where, names);
    return index ? std::optional<E>(values[*index]) : std::nullopt;
  }

  // False for a version this procactor does not read; a missing or
  // mistyped one is an error among the others.
  bool read_version(const toml::table& root) {
    const toml::node* node = root.get("version");
    if (node == nullptr) {
      error(SourcePosition{.line = 1, .column = 1}, "missing 'version = 1' at the top level");
      return true;
    }
    const auto* version = node->as_integer();
    if (version == nullptr) {
      wrong_type(*node, "'version'", "an integer");
      return true;
    }
    if (version->get() == 1) return true;
    error(position_of(node->source()),
          "unsupported version " + std::to_string(version->get()) + " (this procactor reads version 1)");
    return false;
  }

  void read_graph_table(const toml::table& table) {
    constexpr std::string_view where = "in [graph]";
    check_keys(table, graph_keys, where);
    if (auto name = string_at(table, "name", where)) {
      named_ = true;
      if (is_valid_name(*name)) {
        graph_.name = std::move(*name);
      } else {
        error(position_of(table.get("name")->source()), invalid_name_message("graph name", *name));
      }
    }
    if (const toml::node* node = table.get("plugins")) {
      read_plugins(*node);
    }
    graph_.mailbox_capacity = size_at(table, "mailbox_capacity", where, min_mailbox_capacity);
    if (const toml::node* capacity = table.get("mailbox_capacity")) {
      graph_.mailbox_capacity_position = position_of(capacity->source());
    }
    if (auto timeout = runtime_duration_at(table, "shutdown_timeout", where, false, "graph.shutdown_timeout")) {
      graph_.shutdown_timeout = *timeout;
    }
  }

  static std::string invalid_name_message(std::string_view what, std::string_view name) {
    return std::string(what) + " '" + std::string(name) +
           "' must start with an ASCII letter or '_' and hold only ASCII letters, digits, '_' and '-' (at most " +
           std::to_string(max_name_length) + ")";
  }

  void read_plugins(const toml::node& node) {
    const toml::array* plugins = node.as_array();
    if (plugins == nullptr) {
      wrong_type(node, "'plugins' in [graph]", "an array of paths");
      return;
    }
    for (const toml::node& element : *plugins) {
      const auto* path = element.as_string();
      if (path == nullptr) {
        wrong_type(element, "each plugin", "a path string");
        continue;
      }
      if (path->get().empty()) {
        error(position_of(element.source()), "a plugin path must not be empty");
        continue;
      }
      // Resolved now, so the graph means the same thing whatever directory
      // `procactor` runs from: a path against the file's directory, a bare
      // file name searched (plugin_path.hpp).
      PluginLookup lookup = find_plugin(path->get(), base_directory_);
      graph_.plugins.push_back(PluginSpec{
          .path = std::move(lookup.path),
          .as_written = path->get(),
          .position = position_of(element.source()),
          .looked = lookup.bare ? std::move(lookup.looked) : std::vector<std::filesystem::path>{},
      });
    }
  }

  void read_supervisor(const toml::table& table) {
    constexpr std::string_view where = "in [supervisor]";
    check_keys(table, supervisor_keys, where);
    read_intensity(table, where, "supervisor.", graph_.groups.front());
    Backoff& backoff = graph_.backoff;
    const auto initial = runtime_duration_at(table, "backoff_initial", where, true, "supervisor.backoff_initial");
    const auto maximum = runtime_duration_at(table, "backoff_max", where, true, "supervisor.backoff_max");
    if (initial) {
      backoff.initial = *initial;
    }
    if (maximum) {
      backoff.max = *maximum;
    }
    if ((initial || maximum) && backoff.initial > backoff.max) {
      const toml::node* blamed = maximum ? table.get("backoff_max") : table.get("backoff_initial");
      error(position_of(blamed->source()),
            "'backoff_max' (" + format_duration(backoff.max) + (maximum ? "" : ", the default") +
                ") is shorter than 'backoff_initial' (" + format_duration(backoff.initial) +
                (initial ? "" : ", the default") + ")");
    }
    if (auto uptime = runtime_duration_at(table, "min_uptime", where, true, "supervisor.min_uptime")) {
      backoff.reset_after = *uptime;
    }
    if (auto stall = runtime_duration_at(table, "stall_timeout", where, false, "supervisor.stall_timeout")) {
      graph_.stall_timeout = *stall;
    }
  }

  // strategy, max_restarts and within: a group's, or the root's in [supervisor].
  void read_intensity(const toml::table& table, std::string_view where, const std::string& key_prefix,
                      GroupSpec& group) {
    if (auto strategy = enum_at(table, "strategy", where, strategies)) {
      group.options.strategy = *strategy;
    }
    if (auto count = integer_at(table, "max_restarts", where, -1, max_max_restarts)) {
      group.options.max_restarts = static_cast<int>(*count);
    }
    if (auto within = runtime_duration_at(table, "within", where, false, key_prefix + "within")) {
      group.options.within = *within;
    }
  }

  void read_groups(const toml::table& groups) {
    for (const auto& [key, value] : in_file_order(groups)) {
      read_group(*key, *value);
    }
  }

  void read_group(const toml::key& key, const toml::node& node) {
    const std::string name(key.str());
    const SourcePosition name_position = position_of(key.source());
    const std::string header = is_valid_name(name) ? "[groups." + name + "]" : "[groups.\"" + name + "\"]";
    const std::string where = "in " + header;
    if (!is_valid_name(name)) {
      error(name_position, invalid_name_message("group name", name));
    } else if (name == root_group_name) {
      error(name_position, "group name '" + name +
                               "' is the top-level group's, which [supervisor] configures; choose another name");
      return;
    }
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      wrong_type(node, "group '" + name + "'", "a table (write " + header + ")");
      return;
    }
    check_keys(*table, group_keys, where);
    GroupSpec group;
    group.name = name;
    group.position = name_position;
    group.parent = root_group_name;
    group.parent_position = name_position;
    read_intensity(*table, where, "groups." + name + ".", group);
    if (auto parent = string_at(*table, "parent", where)) {
      group.parent = std::move(*parent);
      group.parent_position = position_of(table->get("parent")->source());
    }
    graph_.groups.push_back(std::move(group));
  }

  // Every parent is a group of the file (or the root), and following
  // parents always ends at the root. A parent that is wrong is reported at
  // its line and replaced by the root, so that later checks and a partial
  // graph never loop.
  void check_group_tree() {
    std::vector<std::string> names;
    for (const GroupSpec& group : graph_.groups) {
      names.push_back(group.name);
    }
    for (std::size_t i = 1; i < graph_.groups.size(); ++i) {
      GroupSpec& group = graph_.groups[i];
      for (std::size_t j = 1; j < i; ++j) {
        if (graph_.groups[j].name == group.name) {
          // TOML itself refuses a table defined twice; a quoted and a bare
          // spelling of one name is all that gets here.
          error(group.position, "group '" + group.name + "' is declared twice (first at line " +
                                    std::to_string(graph_.groups[j].position.line) + ")");
        }
      }
      if (group.parent == group.name) {
        error(group.parent_position, "group '" + group.name + "' cannot be its own parent");
        group.parent = root_group_name;
      } else if (graph_.find_group(group.parent) == nullptr) {
        error(group.parent_position,
              "unknown parent group '" + group.parent + "' for group '" + group.name + "'" +
                  suggestion_or(group.parent, names_view(names),
                                "groups are [groups.NAME] tables; leave 'parent' out for the top level"));
        group.parent = root_group_name;
      }
    }
    // A cycle is reported once, at the `parent` of its first group in the
    // file, and broken there.
    for (std::size_t i = 1; i < graph_.groups.size(); ++i) {
      std::vector<std::string> chain{graph_.groups[i].name};
      const GroupSpec* at = graph_.find_group(graph_.groups[i].parent);
      while (at != nullptr && !at->is_root() && at->name != graph_.groups[i].name &&
             chain.size() <= graph_.groups.size()) {
        chain.push_back(at->name);
        at = graph_.find_group(at->parent);
      }
      if (at == nullptr || at->name != graph_.groups[i].name) {
        continue;
      }
      std::string cycle = "group parents form a cycle: ";
      for (const std::string& name : chain) {
        cycle += name + " -> ";
      }
      cycle += graph_.groups[i].name + " (each group's parent is the next); one of them must have the top level, "
                                       "or another group, as its parent";
      error(graph_.groups[i].parent_position, std::move(cycle));
      graph_.groups[i].parent = root_group_name;
    }
  }

  static std::vector<std::string_view> names_view(const std::vector<std::string>& names) {
    return {names.begin(), names.end()};
  }

  // " (first at line 3)" for an earlier entry; nodes are often written on
  // one line, where the column tells them apart.
  static std::string first_at(SourcePosition first, SourcePosition again) {
    return first.line == again.line ? " (first at column " + std::to_string(first.column) + ")"
                                    : " (first at line " + std::to_string(first.line) + ")";
  }

  // [cluster]: its nodes, the launcher and what is passed to it. Whether
  // the nodes were all read decides if actors' node names are checked:
  // against a broken list every name would look unknown.
  void read_cluster(const toml::table& table) {
    constexpr std::string_view where = "in [cluster]";
    check_keys(table, cluster_keys, where);
    ClusterSpec cluster;
    cluster.position = position_of(table.source());
    const std::size_t errors_before = diagnostics_.size();
    read_nodes(table, cluster);
    cluster_nodes_complete_ = diagnostics_.size() == errors_before;
    if (auto index = choice_at(table, "launcher", where, cluster_launchers)) {
      cluster.launcher = std::string(cluster_launchers[*index]);
    }
    if (const toml::node* args = table.get("mpi_args")) {
      read_mpi_args(*args, cluster);
    }
    if (const toml::node* spin = table.get("gateway_spin")) {
      if (const auto* flag = spin->as_boolean()) {
        cluster.gateway_spin = flag->get();
      } else {
        wrong_type(*spin, "'gateway_spin' in [cluster]", "true or false");
      }
    }
    if (auto timeout = duration_at(table, "start_timeout", where, false)) {
      cluster.start_timeout = *timeout;
      graph_.durations_as_written["cluster.start_timeout"] = table.get("start_timeout")->as_string()->get();
    }
    graph_.cluster = std::move(cluster);
  }

  void read_nodes(const toml::table& table, ClusterSpec& cluster) {
    const toml::node* node = table.get("nodes");
    if (node == nullptr) {
      error(cluster.position, "[cluster] has no 'nodes' (write nodes = [{ name = \"n0\", host = \"alpha\" }])");
      return;
    }
    const auto* nodes = nonempty<toml::array>(*node, "'nodes' in [cluster]",
                                              "an array of tables such as [{ name = \"n0\", host = \"alpha\" }]",
                                              "'nodes' in [cluster] must list at least one node");
    if (nodes == nullptr) {
      return;
    }
    for (const toml::node& element : *nodes) {
      if (const toml::table* entry = element.as_table()) {
        read_node(*entry, cluster);
      } else {
        wrong_type(element, "each node in [cluster]", "a table such as { name = \"n0\", host = \"alpha\" }");
      }
    }
  }

  // A node whose name is good is kept even when its host is not, so that
  // the actors placed on it are not blamed for the node's own error.
  void read_node(const toml::table& table, ClusterSpec& cluster) {
    constexpr std::string_view where = "in a [cluster] node";
    const SourcePosition position = position_of(table.source());
    if (table.empty()) {
      error(position, "empty node in [cluster]; a node needs a name and a host: { name = \"n0\", host = \"alpha\" }");
      return;
    }
    check_keys(table, node_keys, where);
    NodeSpec node;
    node.position = position;
    bool named = false;
    if (auto name = string_at(table, "name", where)) {
      const SourcePosition name_position = position_of(table.get("name")->source());
      if (!is_valid_name(*name)) {
        error(name_position, invalid_name_message("node name", *name));
      } else if (const NodeSpec* first = cluster.find_node(*name)) {
        error(name_position, "node '" + *name + "' is listed twice in [cluster]" + first_at(first->position, position));
      } else {
        node.name = std::move(*name);
        named = true;
      }
    } else if (table.get("name") == nullptr) {
      error(position, "node in [cluster] has no 'name'");
    }
    const std::string which = named ? "node '" + node.name + "'" : std::string("node");
    if (auto host = string_at(table, "host", where)) {
      if (host->find_first_not_of(" \t") == std::string::npos) {
        error(position_of(table.get("host")->source()), "'host' of " + which + " in [cluster] must not be empty");
      } else if (const auto why = bad_host(*host)) {
        error(position_of(table.get("host")->source()),
              "'host' of " + which + " in [cluster] must be a host name or an IPv4 address (letters, digits, '.', "
              "'-' and '_', first a letter, a digit or '_'): '" + *host + "' " + *why);
      }
      node.host = std::move(*host);
    } else if (table.get("host") == nullptr) {
      error(position, which + " in [cluster] has no 'host'");
    }
    if (named) {
      cluster.nodes.push_back(std::move(node));
    }
  }

  void read_mpi_args(const toml::node& node, ClusterSpec& cluster) {
    const toml::array* args = node.as_array();
    if (args == nullptr) {
      wrong_type(node, "'mpi_args' in [cluster]", "an array of strings");
      return;
    }
    for (const toml::node& element : *args) {
      if (const auto* arg = element.as_string()) {
        cluster.mpi_args.push_back(arg->get());
      } else {
        wrong_type(element, "each element of 'mpi_args' in [cluster]", "a string");
      }
    }
  }

  void read_actors(const toml::table& root) {
    const toml::node* node = root.get("actors");
    if (node == nullptr) {
      error(SourcePosition{.line = 1, .column = 1}, "the graph has no actors (add an [actors.NAME] table)");
      return;
    }
    const auto* actors = nonempty<toml::table>(*node, "'actors'", "a table of actors (write [actors.NAME])",
                                               "the graph has no actors (add an [actors.NAME] table)");
    if (actors == nullptr) {
      return;
    }
    for (const auto& [key, value] : in_file_order(*actors)) {
      read_actor(*key, *value);
    }
  }

  void read_actor(const toml::key& key, const toml::node& node) {
    const std::string name(key.str());
    const SourcePosition name_position = position_of(key.source());
    // An invalid name is quoted, as TOML needs it to be: [actors."my.actor"].
    const std::string header = is_valid_name(name) ? "[actors." + name + "]" : "[actors.\"" + name + "\"]";
    const std::string where = "in " + header;
    if (!is_valid_name(name)) {
      error(name_position, invalid_name_message("actor name", name));
    }
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      wrong_type(node, "actor '" + name + "'", "a table (write " + header + ")");
      return;
    }
    check_keys(*table, actor_keys, where);

    ActorSpec actor;
    actor.name = name;
    actor.position = name_position;
    actor.params_position = name_position;
    if (auto type = string_at(*table, "type", where)) {
      actor.type_position = position_of(table->get("type")->source());
      if (!is_valid_type(*type)) {
        error(actor.type_position,
              "actor type '" + *type + "' must be a dotted name such as 'examples.PrimeCounter'");
      }
      actor.type = std::move(*type);
    } else if (table->get("type") == nullptr) {
      error(name_position, "actor '" + name + "' has no 'type'");
    }
    read_replicas(*table, where, actor);
    check_instance_names(actor);
    if (const toml::node* cpu = table->get("cpu")) {
      read_cpu(*cpu, where, actor);
    }
    if (const toml::node* params = table->get("params")) {
      actor.params_position = position_of(params->source());
      read_params(*params, where, actor);
    }
    if (auto restart = enum_at(*table, "restart", where, restarts)) {
      actor.restart = *restart;
    }
    actor.group_position = name_position;
    if (auto group = string_at(*table, "group", where)) {
      actor.group_position = position_of(table->get("group")->source());
      if (graph_.find_group(*group) == nullptr) {
        std::vector<std::string> names;
        for (const GroupSpec& known : graph_.groups) {
          names.push_back(known.name);
        }
        error(actor.group_position, "unknown group '" + *group + "' for actor '" + name + "'" +
                                        suggestion_or(*group, names_view(names),
                                                      "groups are declared as [groups.NAME] tables"));
      } else {
        actor.group = std::move(*group);
      }
    }
    actor.mailbox_capacity = size_at(*table, "mailbox_capacity", where, min_mailbox_capacity);
    if (const toml::node* capacity = table->get("mailbox_capacity")) {
      actor.mailbox_capacity_position = position_of(capacity->source());
    }
    if (auto nice = integer_at(*table, "nice", where, -20, 19)) {
      actor.nice = static_cast<int>(*nice);
    }
    actor.memory_limit = size_at(*table, "memory_limit", where, 1);
    read_placement(*table, where, actor);
    graph_.actors.push_back(std::move(actor));
  }

  // `node` pins every replica to one node of [cluster], `nodes` spreads
  // them; with neither they go to the first node.
  void read_placement(const toml::table& table, const std::string& where, ActorSpec& actor) {
    actor.nodes_position = actor.position;
    const toml::node* one = table.get("node");
    const toml::node* many = table.get("nodes");
    if (one == nullptr && many == nullptr) {
      return;
    }
    if (one != nullptr && many != nullptr) {
      const SourcePosition a = position_of(one->source());
      const SourcePosition b = position_of(many->source());
      error(std::tie(a.line, a.column) < std::tie(b.line, b.column) ? b : a,
            "'node' and 'nodes' " + where + " exclude each other: 'node' pins every replica to one node, 'nodes' "
            "spreads them; keep one");
      return;
    }
    const std::string key = one != nullptr ? "node" : "nodes";
    const toml::node& value = one != nullptr ? *one : *many;
    actor.nodes_position = position_of(value.source());
    if (!cluster_written_) {
      error(actor.nodes_position, "'" + key + "' " + where +
                                      " needs a [cluster] listing the nodes, and the file has none (add one, or "
                                      "leave '" + key + "' out to run on this host)");
      return;
    }
    if (one != nullptr) {
      if (auto name = string_at(table, "node", where)) {
        add_node_of(actor, *name, actor.nodes_position);
      }
      return;
    }
    read_node_list(value, where, actor);
  }

  void read_node_list(const toml::node& value, const std::string& where, ActorSpec& actor) {
    const std::string what = "'nodes' " + where;
    const auto* names = nonempty<toml::array>(
        value, what, "an array of node names",
        what + " must list at least one node; leave it out to place every replica on the first node");
    if (names == nullptr) {
      return;
    }
    std::vector<std::string> seen;
    for (const toml::node& element : *names) {
      const auto* name = element.as_string();
      if (name == nullptr) {
        wrong_type(element, "each node in " + what, "a node name");
      } else if (std::find(seen.begin(), seen.end(), name->get()) != seen.end()) {
        error(position_of(element.source()), "node '" + name->get() + "' is listed twice in " + what);
      } else {
        seen.push_back(name->get());
        add_node_of(actor, name->get(), position_of(element.source()));
      }
    }
  }

  // Checked against [cluster] only when all its nodes were read.
  void add_node_of(ActorSpec& actor, const std::string& name, SourcePosition position) {
    if (graph_.cluster && cluster_nodes_complete_ && graph_.cluster->find_node(name) == nullptr) {
      std::vector<std::string_view> known;
      for (const NodeSpec& node : graph_.cluster->nodes) {
        known.push_back(node.name);
      }
      error(position, "unknown node '" + name + "' for actor '" + actor.name + "'" +
                          suggestion_or(name, known, "expected " + quote_list(known)));
      return;
    }
    actor.nodes.push_back(name);
  }

  // Reported at the actor whose replicas take the total past the limit.
  void check_instance_count() {
    std::uint64_t total = 0;
    for (const ActorSpec& actor : graph_.actors) {
      total += actor.replicas;
    }
    if (total <= max_instances_per_run) {
      return;
    }
    std::uint64_t running = 0;
    for (const ActorSpec& actor : graph_.actors) {
      running += actor.replicas;
      if (running > max_instances_per_run) {
        error(actor.replicas_position,
              "the graph has " + std::to_string(total) + " actor instances (replicas of every actor added up), "
              "more than the " + std::to_string(max_instances_per_run) + " one run can hold; '" + actor.name +
              "' takes the count from " + std::to_string(running - actor.replicas) + " to " +
              std::to_string(running));
        return;
      }
    }
  }

  // Every actor maps the run's whole arena: a graph whose mailboxes could
  // outgrow it is refused here, so that `validate` and `--dry-run` say so
  // too. Reported at the mailbox_capacity (or the replicas) of the actor
  // that takes the most.
  void check_arena_size() {
    const std::uint64_t total = arena_size_for(graph_);
    if (total <= max_arena_bytes) {
      return;
    }
    // Past the limit, some actor takes more than the fixed 16 MiB.
    const ActorSpec* biggest = &graph_.actors.front();
    std::uint64_t biggest_bytes = 0;
    for (const ActorSpec& actor : graph_.actors) {
      const std::uint64_t bytes = mailbox_bytes_of(graph_, actor);
      if (bytes > biggest_bytes) {
        biggest = &actor;
        biggest_bytes = bytes;
      }
    }
    const SourcePosition where = biggest->mailbox_capacity_position.line != 0 ? biggest->mailbox_capacity_position
                                 : graph_.mailbox_capacity_position.line != 0 ? graph_.mailbox_capacity_position
                                                                              : biggest->replicas_position;
    const auto gib = [](std::uint64_t bytes) {
      return bytes == std::numeric_limits<std::uint64_t>::max() ? std::string("more than 16EiB")
                                                                : "about " + std::to_string((bytes >> 30U) + 1) + "GiB";
    };
    error(where, "the mailboxes of graph " + graph_.name + " could grow to " + gib(total) +
                     " of shared memory (mailbox_capacity for every sender of every instance), more than the " +
                     format_size(max_arena_bytes) + " a run maps; '" + biggest->name + "' takes " + gib(biggest_bytes) +
                     " of it: lower its mailbox_capacity or its replicas");
  }

  // The runtime names each instance NAME.N, in at most max_name_length
  // bytes: the last replica's name must fit too.
  void check_instance_names(const ActorSpec& actor) {
    if (!is_valid_name(actor.name)) {
      return;
    }
    const std::string last = actor.name + "." + std::to_string(actor.replicas - 1);
    if (last.size() <= max_name_length) {
      return;
    }
    const std::size_t room = max_name_length - (last.size() - actor.name.size());
    error(actor.position, "actor name '" + actor.name + "' is too long for " + std::to_string(actor.replicas) +
                              (actor.replicas == 1 ? " replica" : " replicas") + ": the instance name '" + last +
                              "' would have " +
                              std::to_string(last.size()) + " bytes, more than the " +
                              std::to_string(max_name_length) + " one may have; shorten the name to " +
                              std::to_string(room) + " bytes or fewer");
  }

  void read_replicas(const toml::table& table, const std::string& where, ActorSpec& actor) {
    const toml::node* node = table.get("replicas");
    actor.replicas_position = actor.position;
    if (node == nullptr) {
      return;
    }
    actor.replicas_position = position_of(node->source());
    if (const auto* text = node->as_string()) {
      if (text->get() == "auto") {
        actor.replicas = auto_replicas();
        actor.replicas_auto = true;
      } else {
        error(position_of(node->source()), "'replicas' " + where + " must be a number or \"auto\", not \"" +
                                               text->get() + "\"" + did_you_mean(text->get(), auto_word));
      }
      return;
    }
    if (node->as_integer() == nullptr) {
      wrong_type(*node, "'replicas' " + where, "a number or \"auto\"");
      return;
    }
    if (auto count = integer_at(table, "replicas", where, 1, max_replicas)) {
      actor.replicas = static_cast<std::uint32_t>(*count);
    }
  }

  void read_cpu(const toml::node& node, const std::string& where, ActorSpec& actor) {
    const std::string what = "'cpu' " + where;
    if (const auto* text = node.as_string()) {
      if (text->get() == "spread") {
        actor.cpu.kind = CpuPlacement::Kind::spread;
      } else {
        error(position_of(node.source()), "unknown cpu placement '" + text->get() + "'" +
                                              suggestion_or(text->get(), spread_word,
                                                            "expected \"spread\" or a list of core numbers"));
      }
      return;
    }
    const auto* cores = nonempty<toml::array>(node, what, "\"spread\" or a list of core numbers",
                                              what + " must list at least one core; leave it out to run anywhere");
    if (cores == nullptr) {
      return;
    }
    actor.cpu.kind = CpuPlacement::Kind::list;
    for (const toml::node& element : *cores) {
      const auto* core = element.as_integer();
      if (core == nullptr) {
        wrong_type(element, "each core in " + what, "an integer");
      } else if (core->get() < 0 || core->get() > 65535) {
        error(position_of(element.source()), "core number " + std::to_string(core->get()) + " in " + what +
                                                 " must be between 0 and 65535");
      } else {
        actor.cpu.cores.push_back(static_cast<int>(core->get()));
      }
    }
  }

  void read_params(const toml::node& node, const std::string& where, ActorSpec& actor) {
    const toml::table* params = node.as_table();
    if (params == nullptr) {
      wrong_type(node, "'params' " + where, "a table (write params = { key = value })");
      return;
    }
    for (const auto& [key, value] : in_file_order(*params)) {
      if (auto converted = param_value(std::string(key->str()), *value)) {
        actor.params.push_back(Param{
            .name = std::string(key->str()),
            .value = std::move(*converted),
            .position = position_of(value->source()),
        });
      }
    }
  }

  std::optional<ParamValue> param_value(const std::string& name, const toml::node& node) {
    switch (node.type()) {
      case toml::node_type::integer: return ParamValue(node.as_integer()->get());
      case toml::node_type::floating_point: return ParamValue(node.as_floating_point()->get());
      case toml::node_type::boolean: return ParamValue(node.as_boolean()->get());
      case toml::node_type::string: return ParamValue(node.as_string()->get());
      case toml::node_type::array: return param_array(name, *node.as_array());
      default: break;
    }
    wrong_type(node, "param '" + name + "'",
               "an integer, float, boolean, string or an array of one of those");
    return std::nullopt;
  }

  template <class T, class Get>
  static std::vector<T> collect(const toml::array& array, Get get) {
    std::vector<T> values;
    values.reserve(array.size());
    for (const toml::node& element : array) {
      values.push_back(get(element));
    }
    return values;
  }

  std::optional<ParamValue> param_array(const std::string& name, const toml::array& array) {
    const std::string what = "param '" + name + "'";
    if (array.empty()) {
      error(position_of(array.source()),
            what + " is an empty array, whose element type cannot be told; leave the param out instead");
      return std::nullopt;
    }
    bool has_integer = false;
    bool has_float = false;
    const toml::node_type first = array.front().type();
    for (const toml::node& element : array) {
      const toml::node_type type = element.type();
      has_integer = has_integer || type == toml::node_type::integer;
      has_float = has_float || type == toml::node_type::floating_point;
      const bool numeric_mix = (type == toml::node_type::integer || type == toml::node_type::floating_point) &&
                               (first == toml::node_type::integer || first == toml::node_type::floating_point);
      if (type != first && !numeric_mix) {
        error(position_of(element.source()), what + " mixes " + std::string(article_and_name(first)) + " and " +
                                                 std::string(article_and_name(type)) +
                                                 " in one array; all elements must be of one kind");
        return std::nullopt;
      }
    }
    // Integers among floats read as floats: [0.5, 1] is a list of numbers.
    if (has_float) {
      return ParamValue(collect<double>(array, [](const toml::node& element) {
        return element.is_integer() ? static_cast<double>(element.as_integer()->get())
                                    : element.as_floating_point()->get();
      }));
    }
    switch (first) {
      case toml::node_type::integer:
        return ParamValue(collect<std::int64_t>(array, [](const toml::node& e) { return e.as_integer()->get(); }));
      case toml::node_type::boolean:
        return ParamValue(collect<bool>(array, [](const toml::node& e) { return e.as_boolean()->get(); }));
      case toml::node_type::string:
        return ParamValue(collect<std::string>(array, [](const toml::node& e) { return e.as_string()->get(); }));
      default: break;
    }
    wrong_type(array.front(), "each element of " + what, "an integer, float, boolean or string");
    return std::nullopt;
  }

  void read_routes(const toml::table& root) {
    const toml::node* node = root.get("routes");
    if (node == nullptr) {
      return;
    }
    const toml::array* routes = node->as_array();
    if (routes == nullptr || !routes->is_array_of_tables()) {
      wrong_type(*node, "'routes'", "an array of tables (write [[routes]])");
      return;
    }
    for (const toml::node& element : *routes) {
      read_route(*element.as_table());
    }
  }

  void read_route(const toml::table& table) {
    constexpr std::string_view where = "in [[routes]]";
    check_keys(table, route_keys, where);
    RouteSpec route;
    route.position = position_of(table.source());
    bool complete = true;
    for (const auto& [key, endpoint] : {std::pair{"from"sv, &route.from}, std::pair{"to"sv, &route.to}}) {
      const toml::node* node = table.get(key);
      if (node == nullptr) {
        error(route.position, "route has no '" + std::string(key) + "'");
        complete = false;
        continue;
      }
      auto name = string_at(table, key, where);
      if (!name) {
        complete = false;
        continue;
      }
      if (graph_.find_actor(*name) == nullptr) {
        error(position_of(node->source()), "route " + std::string(key) + " unknown actor '" + *name + "'" +
                                               did_you_mean(*name, actor_names()));
        complete = false;
        continue;
      }
      *endpoint = std::move(*name);
    }
    const auto policy = enum_at(table, "policy", where, route_policies);
    if (policy) {
      route.policy = *policy;
    }
    if (const toml::node* key = table.get("key")) {
      const auto* text = key->as_string();
      if (text == nullptr) {
        wrong_type(*key, "'key' in [[routes]]", "a string");
      } else if (text->get().empty()) {
        error(position_of(key->source()), "'key' in [[routes]] must not be empty");
      } else if (route.policy == RoutePolicy::key_hash) {
        route.key = text->get();
      } else if (policy || table.get("policy") == nullptr) {
        // A misspelt policy is reported already; blaming the key too would
        // send the reader after the wrong line.
        error(position_of(key->source()), "'key' only applies to policy = \"key_hash\", not \"" +
                                              std::string(to_string(route.policy)) + "\"");
      }
    }
    if (complete) {
      check_route_pair(route, table);
    }
  }

  void check_route_pair(RouteSpec& route, const toml::table& table) {
    if (route.from == route.to) {
      error(position_of(table.get("to")->source()),
            "route from '" + route.from + "' to itself; an actor cannot feed its own input");
      return;
    }
    for (const RouteSpec& earlier : graph_.routes) {
      if (earlier.from == route.from && earlier.to == route.to) {
        error(route.position, "duplicate route " + route.from + " -> " + route.to + " (first at line " +
                                  std::to_string(earlier.position.line) + ")");
        return;
      }
    }
    graph_.routes.push_back(std::move(route));
  }

  const std::vector<std::string>& actor_names() {
    if (actor_names_.size() != graph_.actors.size()) {
      actor_names_.clear();
      for (const ActorSpec& actor : graph_.actors) {
        actor_names_.push_back(actor.name);
      }
    }
    return actor_names_;
  }

  // End of stream travels along routes and an actor finishes when all its
  // inputs have, so a cycle would never drain: every cycle is an error,
  // reported at the route that closes it.
  void check_route_graph() {
    enum class Mark : std::uint8_t { unseen, on_path, done };
    std::map<std::string, Mark, std::less<>> marks;
    std::vector<std::string> path;

    const auto visit = [&](const auto& self, const std::string& actor) -> void {
      marks[actor] = Mark::on_path;
      path.push_back(actor);
      for (const RouteSpec& route : graph_.routes) {
        if (route.from != actor) {
          continue;
        }
        const Mark mark = marks[route.to];
        if (mark == Mark::on_path) {
          std::string cycle = "route cycle: ";
          const auto start = std::find(path.begin(), path.end(), route.to);
          for (auto it = start; it != path.end(); ++it) {
            cycle += *it + " -> ";
          }
          cycle += route.to;
          error(route.position, std::move(cycle));
        } else if (mark == Mark::unseen) {
          self(self, route.to);
        }
      }
      path.pop_back();
      marks[actor] = Mark::done;
    };
    for (const ActorSpec& actor : graph_.actors) {
      if (marks[actor.name] == Mark::unseen) {
        visit(visit, actor.name);
      }
    }
  }

  const SourceFile& source_;
  std::filesystem::path base_directory_;
  Graph graph_;
  std::vector<Diagnostic> diagnostics_;
  std::vector<std::string> actor_names_;
  bool cluster_written_ = false;         // the file has a 'cluster' key, readable or not
  bool named_ = false;                   // [graph] has a name (else the file's stem names it)
  bool cluster_nodes_complete_ = false;  // every node of [cluster] was read without an error
};

}  // namespace

const Param* ActorSpec::find_param(std::string_view param_name) const noexcept {
  const auto found = std::find_if(params.begin(), params.end(), [&](const Param& p) { return p.name == param_name; });
  return found == params.end() ? nullptr : &*found;
}

const NodeSpec* ClusterSpec::find_node(std::string_view node_name) const noexcept {
  const auto found = std::find_if(nodes.begin(), nodes.end(), [&](const NodeSpec& n) { return n.name == node_name; });
  return found == nodes.end() ? nullptr : &*found;
}

const ActorSpec* Graph::find_actor(std::string_view actor_name) const noexcept {
  const auto found =
      std::find_if(actors.begin(), actors.end(), [&](const ActorSpec& a) { return a.name == actor_name; });
  return found == actors.end() ? nullptr : &*found;
}

const GroupSpec* Graph::find_group(std::string_view group_name) const noexcept {
  const auto found =
      std::find_if(groups.begin(), groups.end(), [&](const GroupSpec& g) { return g.name == group_name; });
  return found == groups.end() ? nullptr : &*found;
}

std::string Graph::duration_text(std::string_view key_path, std::chrono::nanoseconds value) const {
  const auto written = durations_as_written.find(key_path);
  return written != durations_as_written.end() ? written->second : format_duration(value);
}

std::string Graph::describe_group(const GroupSpec& group) const {
  return group.is_root() ? std::string("[supervisor]") : "group '" + group.name + "'";
}

std::string Graph::describe_intensity(const GroupSpec& group) const {
  if (group.options.max_restarts < 0) {
    return "no restart limit";
  }
  const std::string key = group.is_root() ? "supervisor.within" : "groups." + group.name + ".within";
  const int count = group.options.max_restarts;
  return "at most " + std::to_string(count) + (count == 1 ? " restart" : " restarts") + " within " +
         duration_text(key, group.options.within);
}

std::vector<std::size_t> start_order(const Graph& graph) {
  std::vector<std::size_t> order;
  std::vector<bool> placed(graph.actors.size(), false);
  // Sweeps in file order, each placing the actors whose every target is
  // placed; the validator has ruled out cycles, so each sweep places one at
  // least (the guard only stops a malformed partial graph).
  for (std::size_t sweep = 0; sweep <= graph.actors.size() && order.size() < graph.actors.size(); ++sweep) {
    for (std::size_t a = 0; a < graph.actors.size(); ++a) {
      if (placed[a]) continue;
      bool ready = true;
      for (const RouteSpec& route : graph.routes) {
        if (route.from != graph.actors[a].name) continue;
        for (std::size_t d = 0; d < graph.actors.size(); ++d) {
          if (graph.actors[d].name == route.to && !placed[d]) ready = false;
        }
      }
      if (ready) {
        placed[a] = true;
        order.push_back(a);
      }
    }
  }
  return order;
}

std::vector<std::vector<GroupMember>> supervision_tree(const Graph& graph) {
  std::vector<std::vector<GroupMember>> members(graph.groups.size());
  std::vector<bool> placed(graph.groups.size(), false);
  placed[0] = true;
  const auto index_of = [&](std::string_view name) {
    const GroupSpec* group = graph.find_group(name);
    return group == nullptr ? std::size_t{0} : static_cast<std::size_t>(group - graph.groups.data());
  };
  // Places a group, and its ancestors first, among its parent's members.
  const auto place = [&](const auto& self, std::size_t group) -> void {
    if (placed[group]) return;
    const std::size_t parent = index_of(graph.groups[group].parent);
    placed[group] = true;  // before the parent, so a malformed cycle cannot recurse forever
    self(self, parent);
    members[parent].push_back({.is_group = true, .index = group});
  };
  for (std::size_t actor : start_order(graph)) {
    const std::size_t group = index_of(graph.actors[actor].group);
    place(place, group);
    members[group].push_back({.is_group = false, .index = actor});
  }
  return members;
}

namespace {
std::atomic<std::uint32_t> auto_replicas_set{0};
}  // namespace

std::uint32_t auto_replicas() noexcept {
  if (const std::uint32_t set = auto_replicas_set.load(std::memory_order_relaxed); set != 0) return set;
  return std::max(1U, std::thread::hardware_concurrency());
}

void set_auto_replicas(std::uint32_t count) noexcept { auto_replicas_set.store(count, std::memory_order_relaxed); }

std::size_t node_for_replica(const Graph& graph, const ActorSpec& actor, std::uint32_t replica) noexcept {
  if (!graph.cluster || actor.nodes.empty()) {
    return 0;
  }
  const NodeSpec* node = graph.cluster->find_node(actor.nodes[replica % actor.nodes.size()]);
  // parse_graph() only hands out graphs whose actors name real nodes.
  return node == nullptr ? 0 : static_cast<std::size_t>(node - graph.cluster->nodes.data());
}

std::vector<std::size_t> instances_per_node(const Graph& graph) {
  std::vector<std::size_t> counts(graph.cluster ? std::max<std::size_t>(graph.cluster->nodes.size(), 1) : 1, 0);
  for (const ActorSpec& actor : graph.actors) {
    for (std::uint32_t replica = 0; replica < actor.replicas; ++replica) {
      ++counts[node_for_replica(graph, actor, replica)];
    }
  }
  return counts;
}

std::optional<std::size_t> only_node(const Graph& graph) {
  if (!graph.cluster) return std::nullopt;
  const std::vector<std::size_t> counts = instances_per_node(graph);
  std::optional<std::size_t> only;
  for (std::size_t node = 0; node < counts.size(); ++node) {
    if (counts[node] == 0) continue;
    if (only) return std::nullopt;
    only = node;
  }
  return only;
}

std::optional<int> cpu_for_replica(const CpuPlacement& cpu, std::uint32_t replica, std::uint32_t cores) noexcept {
  switch (cpu.kind) {
    case CpuPlacement::Kind::any: return std::nullopt;
    case CpuPlacement::Kind::spread:
      return cores == 0 ? std::nullopt : std::optional<int>(static_cast<int>(replica % cores));
    case CpuPlacement::Kind::list:
      return cpu.cores.empty() ? std::nullopt : std::optional<int>(cpu.cores[replica % cpu.cores.size()]);
  }
  return std::nullopt;
}

ParseResult parse_graph_text(std::string_view text, std::string display_path,
                             const std::filesystem::path& base_directory) {
  const SourceFile source(std::move(display_path), text);
  return Parser(source, base_directory).run();
}

ParseResult parse_graph(const std::filesystem::path& path) {
  const auto unreadable = [&](std::string reason) {
    ParseResult result;
    Diagnostic diagnostic;
    diagnostic.file = path.string();
    diagnostic.message = "cannot read graph file: " + reason;
    result.diagnostics.push_back(std::move(diagnostic));
    return result;
  };
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) {
    return unreadable("it is a directory");
  }
  errno = 0;
  std::optional<SourceFile> source = SourceFile::read(path);
  if (!source) {
    const int err = errno;
    if (err == EFBIG) return unreadable("it holds more than 16 MiB, and a graph file is TOML text of a few KiB");
    return unreadable(err != 0 ? std::strerror(err) : "unknown error");
  }
  std::filesystem::path directory = path.parent_path();
  if (directory.empty()) {
    directory = ".";
  }
  return Parser(*source, directory).run();
}

}  // namespace procactor::launcher
