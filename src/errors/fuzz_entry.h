#pragma once
// Entry points for the libFuzzer targets in fuzz/ (fuzz_sentry_envelope, fuzz_sentry_event):
// arbitrary bytes through the same parsing and grouping code the ingest handler runs. They must
// never crash, hang or leak.
#include <cstddef>
#include <cstdint>

namespace kansoku::errors {
// Envelope parse, then every event item through ParseEvent + GroupEvent.
int FuzzSentryEnvelope(const uint8_t* data, size_t size);
// One event (the /store/ body) through ParseEvent + GroupEvent, the message normaliser and
// the Java stack trace parser (logback).
int FuzzSentryEvent(const uint8_t* data, size_t size);
}  // namespace kansoku::errors
