#include "ingest/common/protowire.h"

namespace kansoku::ingest {

bool ProtoReader::Fail(const char* why) {
  if (!failed_) {
    failed_ = true;
    error_ = std::string(why) + " at offset " + std::to_string(offset());
  }
  p_ = end_;
  return false;
}

bool ProtoReader::FailWireType() {
  std::string why = "unsupported wire type " + std::to_string(wire_);
  return Fail(why.c_str());
}

bool ProtoReader::FailExpect(WireType want) {
  std::string why = "field " + std::to_string(field_) + " has wire type " + std::to_string(wire_) +
                    ", want " + std::to_string(static_cast<int>(want));
  return Fail(why.c_str());
}

}  // namespace kansoku::ingest
