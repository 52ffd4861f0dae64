// Warm starts: the pages an actor's start touches, learned once and paged
// in ahead by the spares of the fork server (fork_server.hpp).
//
// On a virtual machine with shadow page tables, the first access of a
// process to a page costs a fault of 10-20 µs even when the kernel's page
// table already has it, and a new actor touches a few dozen pages on its
// way to its first answer: code and constants of the libraries, the heap
// and the libraries' data (copy-on-write after the fork). All actors of a
// run are forks of one image, so those pages sit at the same addresses in
// each. The first forked actor to finish a message lists the pages it has
// touched since the fork (/proc/self/pagemap: written pages are the ones
// now mapped by it alone, read ones the file pages present) into the arena
// header; each spare touches them from its own process while it waits.
//
// The list lives in shared memory and is not trusted: a spare touches an
// address only if its own /proc/self/maps has a private mapping there of
// the right kind, and a write only rewrites the byte it read, in a private
// page of its own.
#pragma once

#include "arena.hpp"

namespace procactor::detail {

// In an actor forked from the fork server, once it has handled a message:
// publishes its pages if no actor of the run has yet. Cheap after the
// first call.
void publish_warm_pages(arena_header& header) noexcept;

// In a spare: touches the published pages, stopping as soon as `requests`
// is readable (its request came). False when none are published yet.
bool touch_warm_pages(const arena_header& header, int requests) noexcept;

}  // namespace procactor::detail
