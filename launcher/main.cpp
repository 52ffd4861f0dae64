// procactor — validate, draw, launch and manage actor graphs.
//
// This file only turns arguments into the option structs of commands.hpp;
// every subcommand's behaviour lives behind that seam.
#include <algorithm>
#include <exception>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <procactor/runtime.hpp>

#include "cli_args.hpp"
#include "commands.hpp"
#include "dashboard.hpp"
#include "did_you_mean.hpp"
#include "log_writer.hpp"
#include "run_dir.hpp"
#include "terminal.hpp"
#include "units.hpp"

#ifndef PROCACTOR_VERSION
#define PROCACTOR_VERSION "unknown"
#endif

namespace {

using namespace procactor::launcher;

// No description of their own: CLI11 would print it after the option's
// type name ("--http [ADDR:]PORT:[ADDR:]PORT"); each option's type_name
// says it once.
const CLI::Validator actor_target_check(
    [](const std::string& text) {
      return parse_actor_target(text) ? std::string() : "'" + text + "' is not ACTOR or ACTOR.N";
    },
    "");

const CLI::Validator duration_check(
    [](const std::string& text) {
      const Parsed<std::chrono::nanoseconds> parsed = parse_duration(text);
      return parsed ? std::string() : parsed.error;
    },
    "");

const CLI::Validator since_check(
    [](const std::string& text) {
      const Parsed<wall_clock::time_point> parsed = parse_since(text, wall_clock::now());
      return parsed ? std::string() : parsed.error;
    },
    "");

const CLI::Validator listen_check(
    [](const std::string& text) {
      const Parsed<ListenAddress> parsed = parse_listen_address(text);
      return parsed ? std::string() : parsed.error;
    },
    "");

// A count of lines: a number of 0 or more (a negative one would read as a
// huge count, all of them).
const CLI::Validator count_check(
    [](const std::string& text) {
      const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
      return digits ? std::string() : "'" + text + "' is not a count of lines (0 or more)";
    },
    "");

const CLI::Validator signal_check(
    [](const std::string& text) {
      return parse_signal(text) ? std::string() : "unknown signal '" + text + "'";
    },
    "");

int run(int argc, char** argv) {
  CLI::App app{"Actors that each run in their own OS process.", "procactor"};
  app.require_subcommand(1);
  app.set_version_flag("--version", PROCACTOR_VERSION);
  app.footer(
      "Exit codes: 0 clean, 1 a failure, the supervisor gave up or the run's supervisor died, 2 usage or config "
      "error, 3 no such run or actor, or the run has ended.");

  ValidateOptions validate;
  CLI::App* validate_cmd = app.add_subcommand("validate", "Check a graph file and report every error in it");
  validate_cmd->add_option("FILE", validate.file, "Graph file (TOML)")->required();
  validate_cmd->add_flag("--file-only", validate.file_only,
                         "Check the file alone; do not look for plugins, check actor types or check that this "
                         "procactor can launch it (a graph on several nodes needs MPI)");

  LaunchOptions launch;
  bool no_color = false;
  CLI::App* launch_cmd = app.add_subcommand("launch", "Start a graph");
  launch_cmd->add_option("FILE", launch.file, "Graph file (TOML)")->required();
  launch_cmd->add_flag("--dry-run", launch.dry_run, "Check the graph and print the plan; start nothing");
  launch_cmd->add_flag("--detach", launch.detach, "Return once the graph runs, leaving it in the background");
  launch_cmd->add_flag("--no-color", no_color, "Never color the output (as --color=never)");
  std::string launch_http;
  CLI::Option* launch_http_opt =
      launch_cmd
          ->add_option("--http", launch_http,
                       "Serve the live dashboard and /metrics while the run lasts, on [ADDR:]PORT (address "
                       "127.0.0.1 unless given)")
          ->check(listen_check)
          ->type_name("[ADDR:]PORT");

  DashboardOptions dashboard;
  std::string dashboard_run;
  std::string dashboard_http = "127.0.0.1:8080";
  CLI::App* dashboard_cmd =
      app.add_subcommand("dashboard", "Serve the live dashboard and /metrics of a running run (e.g. a detached one)");
  CLI::Option* dashboard_run_opt = dashboard_cmd->add_option("RUN", dashboard_run, "Run id (default: the live run)");
  dashboard_cmd->add_option("--http", dashboard_http, "Listen on [ADDR:]PORT (default 127.0.0.1:8080; port 0: any)")
      ->check(listen_check)
      ->type_name("[ADDR:]PORT");

  StatusOptions status;
  std::string status_run;
  CLI::App* status_cmd = app.add_subcommand("status", "Show the actors of a run");
  CLI::Option* status_run_opt =
      status_cmd->add_option("RUN", status_run, "Run id (default: the live run, or the latest if it died)");
  status_cmd->add_flag("--json", status.json, "Print JSON");
  status_cmd->add_flag("--watch", status.watch, "Refresh every second until interrupted or the run ends");

  LogsOptions logs;
  std::string logs_actor;
  std::size_t tail_lines = 0;
  CLI::App* logs_cmd = app.add_subcommand("logs", "Print the output of a run's actors");
  logs_cmd->add_option("RUN", logs.run, "Run id")->required();
  CLI::Option* logs_actor_opt =
      logs_cmd->add_option("ACTOR", logs_actor, "Only this actor, or only replica N")->check(actor_target_check);
  logs_cmd->add_flag("-f,--follow", logs.follow, "Keep printing new output");
  CLI::Option* tail_opt =
      logs_cmd->add_option("-n,--tail", tail_lines, "Only the last N lines")->type_name("N")->check(count_check);
  std::string logs_since;
  CLI::Option* since_opt =
      logs_cmd
          ->add_option("--since", logs_since,
                       "Only lines written since then: a duration back from now (30s, 5m, 2h) or a local time "
                       "(2026-12-03T07:55:01, 2026-12-03 07:55, 2026-12-03)")
          ->check(since_check)
          ->type_name("DURATION|TIME");

  StopOptions stop;
  std::string stop_run;
  std::string stop_timeout;
  CLI::App* stop_cmd =
      app.add_subcommand("stop", "Stop a run: close the sources, let the graph drain, return once it has ended");
  CLI::Option* stop_run_opt =
      stop_cmd->add_option("RUN", stop_run, "Run id (default: the live run, or the latest if it died)");
  CLI::Option* stop_timeout_opt = stop_cmd->add_option("--timeout", stop_timeout,
                                                       "Kill what is still running after D (e.g. 10s)")
                                      ->check(duration_check)
                                      ->type_name("D");

  RestartCommandOptions restart;
  std::string restart_actor;
  CLI::App* restart_cmd = app.add_subcommand(
      "restart", "Restart an actor, or one replica of it: it stops after the message in hand and runs on_stop");
  restart_cmd->add_option("RUN", restart.run, "Run id")->required();
  restart_cmd->add_option("ACTOR", restart_actor, "ACTOR or ACTOR.N")->required()->check(actor_target_check);
  CLI::Option* force_opt = restart_cmd->add_flag(
      "--force", restart.force, "Kill it at once (SIGKILL): no on_stop, the message in hand is delivered again");
  restart_cmd->add_flag("--drain", restart.drain, "Handle what is queued for it first")->excludes(force_opt);

  InspectOptions inspect;
  std::string inspect_actor;
  CLI::App* inspect_cmd = app.add_subcommand(
      "inspect", "Show why an actor's instances exited (the message in flight, their last stderr lines) and "
                 "their dead letters");
  inspect_cmd->add_option("RUN", inspect.run, "Run id")->required();
  inspect_cmd->add_option("ACTOR", inspect_actor, "ACTOR or ACTOR.N")->required()->check(actor_target_check);
  inspect_cmd->add_flag("--json", inspect.json, "Print JSON");

  KillOptions kill;
  std::string kill_actor;
  std::string kill_signal = "KILL";
  CLI::App* kill_cmd = app.add_subcommand("kill", "Send a signal to an actor; the supervisor reacts as to a crash");
  kill_cmd->add_option("RUN", kill.run, "Run id")->required();
  kill_cmd->add_option("ACTOR", kill_actor, "ACTOR or ACTOR.N")->required()->check(actor_target_check);
  kill_cmd->add_option("--signal", kill_signal, "Signal name or number (default KILL)")
      ->check(signal_check)
      ->type_name("SIG");

  ScaleOptions scale;
  CLI::App* scale_cmd = app.add_subcommand(
      "scale", "Add or remove replicas of an actor in a running graph; its senders' routes follow, and a "
               "replica taken away handles what is queued for it first");
  scale_cmd->add_option("RUN", scale.run, "Run id")->required();
  scale_cmd->add_option("ACTOR", scale.actor, "Actor name (all its replicas)")->required();
  scale_cmd->add_option("N", scale.replicas, "How many replicas from now on")
      ->required()
      ->check(CLI::Range(1U, max_instances_per_run).description("1 to " + std::to_string(max_instances_per_run)));

  LsOptions ls;
  CLI::App* ls_cmd = app.add_subcommand("ls", "List every run, live, ended or died, newest first");
  ls_cmd->add_flag("--json", ls.json, "Print JSON");

  EventsOptions events;
  CLI::App* events_cmd =
      app.add_subcommand("events", "Print a run's events: starts, exits, restarts, give-ups, ready, finished");
  events_cmd->add_option("RUN", events.run, "Run id")->required();
  events_cmd->add_flag("--json", events.json, "Print each event as a JSON object, one a line");
  events_cmd->add_flag("-f,--follow", events.follow, "Keep printing new events until the run ends");

  GraphOptions graph;
  NodeOptions node;
  CLI::App* node_cmd = app.add_subcommand(
      "node", "Run one node of a multi-node graph (what `launch` has mpirun start on each host)");
  node_cmd->add_option("FILE", node.file, "Graph file (TOML), at the same path on every host")->required();
  node_cmd->add_option("--node", node.node, "This node's name in [cluster]")->required();
  node_cmd
      ->add_option("--auto-replicas", node.auto_replicas,
                   "What replicas = \"auto\" means (launch gives its own host's core count)")
      ->check(CLI::Range(1U, 1023U))
      ->type_name("N");
  node_cmd
      ->add_option("--run", node.run,
                   "The run on the launching host: this node's run is RUN-NODE (default: the graph's name)")
      ->type_name("RUN");

  CLI::App* graph_cmd = app.add_subcommand("graph", "Print a graph file as text or as Graphviz DOT");
  graph_cmd->add_option("FILE", graph.file, "Graph file (TOML)")->required();
  std::string graph_format = "text";
  graph_cmd->add_option("--format", graph_format, "Output format: text (the launch plan) or dot (Graphviz)")
      ->check(CLI::IsMember({"text", "dot"}))
      ->type_name("FORMAT");

  // `procactor help [COMMAND]`: listed here so that --help, the man page
  // and bash completion name it; its work is done before CLI11 parses
  // (below), and after it for `procactor --color=never help ...`.
  std::string help_topic;
  CLI::App* help_cmd = app.add_subcommand("help", "List the commands, or print one command's usage");
  help_cmd->add_option("COMMAND", help_topic, "The command whose usage to print");

  // One colour policy for every command (terminal.hpp): --color before the
  // command or after it, where each command's help shows it.
  std::string color = "auto";
  const auto add_color = [&color](CLI::App* command) {
    command
        ->add_option("--color", color,
                     "When to colour: auto (a terminal, unless NO_COLOR; CLICOLOR_FORCE forces it), always, never")
        ->transform(CLI::IsMember({"auto", "always", "never"}))
        ->type_name("WHEN");
  };
  add_color(&app);
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) add_color(sub);

  // An option before the command that procactor does not have, named for
  // what it is (CLI11 alone would say that a subcommand is required).
  for (int i = 1; i < argc && argv[i][0] == '-'; ++i) {
    const std::string_view arg = argv[i];
    const std::string_view name = arg.substr(0, arg.find('='));
    bool known = false;
    std::string list;
    for (const CLI::Option* option : app.get_options()) {
      for (const auto& lname : option->get_lnames()) {
        known = known || name == "--" + lname;
        list += (list.empty() ? "--" : ", --") + lname;
      }
      for (const auto& sname : option->get_snames()) known = known || name == "-" + sname;
    }
    if (!known) {
      std::cerr << "procactor: unknown option '" << arg << "' (before the command: " << list
                << "; each command's own come after it: procactor help COMMAND)\n";
      return exit_usage;
    }
    if (name == "--color" && arg.find('=') == std::string_view::npos) ++i;  // its value
  }

  // `procactor help [COMMAND]`, and a mistyped command named for what it is
  // (CLI11 alone would say that a subcommand is required).
  if (argc >= 2 && argv[1][0] != '-') {
    std::vector<std::string> commands;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) commands.push_back(sub->get_name());
    const std::string word = argv[1];
    const auto known = [&](const std::string& name) {
      return std::find(commands.begin(), commands.end(), name) != commands.end();
    };
    // `help --help` (or -h) is the help subcommand's own usage, from CLI11.
    const bool help_of_help = argc == 3 && (std::string_view(argv[2]) == "--help" || std::string_view(argv[2]) == "-h");
    if (word == "help" && !help_of_help) {
      // `help help`, as git has it: what help itself does, the full list.
      if (argc == 2 || (argc == 3 && std::string_view(argv[2]) == "help")) {
        std::cout << app.help();
        return exit_ok;
      }
      if (argc == 3 && known(argv[2])) {
        // As `procactor COMMAND --help` prints it.
        const char* as_help[] = {argv[0], argv[2], "--help"};
        try {
          app.parse(3, as_help);
        } catch (const CLI::ParseError& help) {
          return app.exit(help) == 0 ? exit_ok : exit_usage;
        }
        return exit_ok;
      }
      if (argc == 3) {
        std::cerr << "procactor: help: unknown command '" << argv[2] << "'" << did_you_mean(argv[2], commands)
                  << "; procactor help lists the commands\n";
      } else {
        std::cerr << "procactor: help takes one command, as in procactor help " << argv[2] << "; '" << argv[3]
                  << "' is one word too many\n";
      }
      return exit_usage;
    }
    if (!known(word)) {
      std::string list;
      for (const auto& name : commands) list += (list.empty() ? "" : ", ") + name;
      std::cerr << "procactor: unknown command '" << word << "'" << did_you_mean(word, commands) << "; the commands are "
                << list << " (procactor help COMMAND tells more)\n";
      return exit_usage;
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& failure) {
    // CLI11's own exit codes (105, 106, ...) would collide with ours; any
    // usage error is 2, and --help / --version stay 0.
    return app.exit(failure) == 0 ? exit_ok : exit_usage;
  }
  set_colour_mode(no_color ? colour_mode::never : *parse_colour_mode(color));

  if (*validate_cmd) {
    return validate_command(validate);
  }
  if (*launch_cmd) {
    if (launch_http_opt->count() != 0) launch.http = parse_listen_address(launch_http).value;
    return launch_command(launch);
  }
  if (*node_cmd) {
    return node_command(node);
  }
  if (*dashboard_cmd) {
    if (dashboard_run_opt->count() != 0) dashboard.run = dashboard_run;
    dashboard.listen = *parse_listen_address(dashboard_http).value;
    return dashboard_command(dashboard);
  }
  if (*help_cmd) {
    // Options came before it (`procactor --color=never help status`).
    if (help_topic.empty() || help_topic == "help") {
      std::cout << app.help();
      return exit_ok;
    }
    CLI::App* topic = nullptr;
    for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      if (sub->get_name() == help_topic) topic = sub;
    }
    if (topic == nullptr) {
      std::cerr << "procactor: help: unknown command '" << help_topic << "'; procactor help lists the commands\n";
      return exit_usage;
    }
    std::cout << topic->help(app.get_name());  // "Usage: procactor COMMAND ...", as COMMAND --help has it
    return exit_ok;
  }
  if (*graph_cmd) {
    graph.format = graph_format == "dot" ? GraphFormat::dot : GraphFormat::text;
    return graph_command(graph);
  }
  if (*status_cmd) {
    if (status_run_opt->count() != 0) {
      status.run = status_run;
    }
    return status_command(status);
  }
  if (*logs_cmd) {
    if (logs_actor_opt->count() != 0) {
      logs.actor = parse_actor_target(logs_actor);
    }
    if (tail_opt->count() != 0) {
      logs.tail = tail_lines;
    }
    if (since_opt->count() != 0) {
      logs.since = parse_since(logs_since, wall_clock::now()).value;
    }
    return logs_command(logs);
  }
  if (*stop_cmd) {
    if (stop_run_opt->count() != 0) {
      stop.run = stop_run;
    }
    if (stop_timeout_opt->count() != 0) {
      stop.timeout = parse_duration(stop_timeout).value;
    }
    return stop_command(stop);
  }
  if (*restart_cmd) {
    restart.actor = *parse_actor_target(restart_actor);
    return restart_command(restart);
  }
  if (*inspect_cmd) {
    inspect.actor = *parse_actor_target(inspect_actor);
    return inspect_command(inspect);
  }
  if (*kill_cmd) {
    kill.actor = *parse_actor_target(kill_actor);
    kill.signal = *parse_signal(kill_signal);
    return kill_command(kill);
  }
  if (*scale_cmd) {
    return scale_command(scale);
  }
  if (*ls_cmd) {
    return ls_command(ls);
  }
  if (*events_cmd) {
    return events_command(events);
  }
  return exit_usage;
}

}  // namespace

int main(int argc, char** argv) {
  // `launch` re-executes this program for every actor; such a child runs
  // its actor here and never reaches the command line.
  procactor::Runtime::run_if_child();
  try {
    return run(argc, argv);
  } catch (const setting_error& failure) {
    std::cerr << "procactor: error: " << failure.what() << '\n';
    return exit_usage;
  } catch (const std::exception& failure) {
    std::cerr << "procactor: error: " << failure.what() << '\n';
    return exit_failure;
  }
}
