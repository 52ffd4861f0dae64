// The one header a user includes.
#pragma once

#include "actor.hpp"       // IWYU pragma: export
#include "actor_ref.hpp"   // IWYU pragma: export
#include "error.hpp"       // IWYU pragma: export
#include "future.hpp"      // IWYU pragma: export
#include "message.hpp"     // IWYU pragma: export
#include "params.hpp"      // IWYU pragma: export
#include "pool.hpp"        // IWYU pragma: export
#include "runtime.hpp"     // IWYU pragma: export
#include "timer.hpp"       // IWYU pragma: export
#include "typed_ref.hpp"   // IWYU pragma: export
