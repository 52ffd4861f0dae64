// A run's status object (run_status.hpp) in the Prometheus text format
// (version 0.0.4), for the dashboard's /metrics.
//
// Names follow Prometheus' conventions: the `procactor_` prefix, base units
// (seconds, bytes), `_total` on counters. Every sample is labelled with the
// run; an instance's with `actor` and `replica` (not `instance`, which
// Prometheus sets itself to the scraped target). An actor's state is a
// state set: one sample per state, 1 for the one it is in.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace procactor::launcher {

// The exposition of `status` (an object as status_sampler::sample makes
// it). Fields it lacks are left out, never made up.
[[nodiscard]] std::string prometheus_text(const nlohmann::json& status);

// A label value as the text format quotes it: backslash, double quote and
// newline escaped.
[[nodiscard]] std::string prometheus_label_value(const std::string& value);

}  // namespace procactor::launcher
