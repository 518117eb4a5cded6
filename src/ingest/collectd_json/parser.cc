#include "ingest/collectd_json/parser.h"

#include <simdjson.h>

#include <cmath>
#include <string>
#include <vector>

namespace kansoku::ingest::collectd_json {

struct Parser::Impl {
  simdjson::dom::parser json;
  RowBatch batch;
  std::vector<double> values;
  std::vector<bool> present;
  std::vector<std::string_view> dstypes, dsnames;
};

Parser::Parser() : impl_(std::make_unique<Impl>()) {}
Parser::~Parser() = default;

namespace {

std::string Where(uint32_t n) { return "value list " + std::to_string(n) + ": "; }

std::string_view StringField(simdjson::dom::object o, const char* key) {
  std::string_view s;
  if (o[key].get_string().get(s) != simdjson::SUCCESS) return {};
  return s;
}

}  // namespace

Status Parser::Parse(std::string_view body, const DecodeOptions& opts, RowSink& sink,
                     DecodeReport& report) {
  Impl& m = *impl_;
  RowBatch& batch = m.batch;
  batch.Clear();
  batch.set_location_unit("value list");
  simdjson::dom::element doc;
  auto err = m.json.parse(body.data(), body.size(), true).get(doc);
  if (err != simdjson::SUCCESS) {
    Status st = Status::InvalidArgument(std::string("cannot parse collectd JSON: ") +
                                        simdjson::error_message(err));
    report.SetRequestError(st);
    return st;
  }
  simdjson::dom::array lists;
  if (doc.get_array().get(lists) != simdjson::SUCCESS) {
    Status st = Status::InvalidArgument(
        "cannot parse collectd JSON: want an array of value lists at the top level");
    report.SetRequestError(st);
    return st;
  }
  uint32_t n = 0;
  std::string why;
  for (simdjson::dom::element el : lists) {
    ++n;
    simdjson::dom::object vl;
    if (el.get_object().get(vl) != simdjson::SUCCESS) {
      report.Reject(RejectReason::kSyntax, Where(n) + "cannot parse value list: not an object");
      continue;
    }
    std::string_view host = StringField(vl, "host");
    std::string_view plugin = StringField(vl, "plugin");
    std::string_view plugin_instance = StringField(vl, "plugin_instance");
    std::string_view type = StringField(vl, "type");
    std::string_view type_instance = StringField(vl, "type_instance");
    simdjson::dom::array values, dstypes, dsnames;
    if (vl["values"].get_array().get(values) != simdjson::SUCCESS) {
      report.Reject(RejectReason::kSyntax,
                    Where(n) + "cannot parse \"values\": missing or not an array");
      continue;
    }
    size_t count = values.size();
    if (plugin.empty() || type.empty()) {
      report.RejectN(RejectReason::kSyntax, count,
                     Where(n) +
                         "cannot parse value list: \"plugin\" and \"type\" must be "
                         "non-empty strings");
      continue;
    }
    if (vl["dstypes"].get_array().get(dstypes) != simdjson::SUCCESS ||
        vl["dsnames"].get_array().get(dsnames) != simdjson::SUCCESS || dstypes.size() != count ||
        dsnames.size() != count) {
      report.RejectN(RejectReason::kSyntax, count,
                     Where(n) + "cannot parse value list " + Quote(plugin) + "/" + Quote(type) +
                         ": \"values\", \"dstypes\" and \"dsnames\" must be arrays of the same "
                         "length");
      continue;
    }
    int64_t ts = opts.now_ms;
    double secs = 0;
    if (vl["time"].get_double().get(secs) == simdjson::SUCCESS && secs != 0) {
      if (!std::isfinite(secs) || std::fabs(secs) > 9.2e15) {
        report.RejectN(RejectReason::kBadTimestamp, count,
                       Where(n) + "cannot parse \"time\": out of range");
        continue;
      }
      ts = static_cast<int64_t>(std::llround(secs * 1000));
    }
    if (!CheckTimestamp(ts, opts, &why)) {
      report.RejectN(RejectReason::kTimestampOutOfRange, count,
                     Where(n) + Quote(plugin) + "/" + Quote(type) + ": " + why);
      continue;
    }
    // Validate the whole list before adding rows.
    m.values.assign(count, 0);
    m.present.assign(count, true);
    m.dstypes.assign(count, {});
    m.dsnames.assign(count, {});
    bool bad = false;
    for (size_t i = 0; i < count && !bad; ++i) {
      simdjson::dom::element v = values.at(i).value_unsafe();
      if (v.is_null()) {
        m.present[i] = false;
      } else if (v.get_double().get(m.values[i]) != simdjson::SUCCESS) {
        bad = true;
        report.RejectN(RejectReason::kBadValue, count,
                       Where(n) + "cannot parse value " + std::to_string(i) + " of " +
                           Quote(plugin) + "/" + Quote(type) + ": not a number");
        break;
      }
      if (dstypes.at(i).get_string().get(m.dstypes[i]) != simdjson::SUCCESS ||
          (m.dstypes[i] != "gauge" && m.dstypes[i] != "derive" && m.dstypes[i] != "counter" &&
           m.dstypes[i] != "absolute")) {
        bad = true;
        report.RejectN(RejectReason::kSyntax, count,
                       Where(n) + "cannot parse dstype " + std::to_string(i) + " of " +
                           Quote(plugin) + "/" + Quote(type) +
                           ": want gauge, derive, counter or absolute");
        break;
      }
      if (dsnames.at(i).get_string().get(m.dsnames[i]) != simdjson::SUCCESS ||
          m.dsnames[i].empty()) {
        bad = true;
        report.RejectN(RejectReason::kSyntax, count,
                       Where(n) + "cannot parse dsname " + std::to_string(i) + " of " +
                           Quote(plugin) + "/" + Quote(type) + ": want a non-empty string");
        break;
      }
    }
    if (bad) continue;
    StringArena& arena = batch.arena();
    std::string_view base = arena.Concat("collectd_", "", plugin);
    base = arena.Concat(base, "_", type);
    for (size_t i = 0; i < count; ++i) {
      if (!m.present[i] || std::isnan(m.values[i])) {
        report.Skip();
        continue;
      }
      std::string_view name =
          m.dsnames[i] == "value" ? base : arena.Concat(base, "_", m.dsnames[i]);
      if (m.dstypes[i] == "derive" || m.dstypes[i] == "counter") {
        name = arena.Concat(name, "", "_total");
      }
      batch.BeginSeries(n);
      batch.AddLabel(tsdb::kMetricName, SanitizeMetricName(name, arena));
      if (!host.empty()) batch.AddLabel("host", host);
      if (!plugin_instance.empty()) batch.AddLabel("plugin_instance", plugin_instance);
      if (!type_instance.empty()) batch.AddLabel("type_instance", type_instance);
      if (!CheckSeriesLimits(batch, opts.limits, report)) continue;
      AddExtraLabels(batch, opts);
      batch.AddSample(ts, m.values[i]);
    }
    MaybeFlush(batch, opts, sink);
  }
  Flush(batch, sink);
  return Status::Ok();
}

Status ParseCollectdJson(std::string_view body, const DecodeOptions& opts, RowSink& sink,
                         DecodeReport& report) {
  Parser p;
  return p.Parse(body, opts, sink, report);
}

}  // namespace kansoku::ingest::collectd_json
