// libFuzzer: dashboard document validation and its normalization round trip.
#include "api/dashboards_api.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return kansoku::api::FuzzDashboardJson(data, size);
}
