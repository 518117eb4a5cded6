#include "ingest/prom_remote_write/parser.h"

#include <snappy.h>

#include "ingest/common/protowire.h"

namespace kansoku::ingest::prom_remote_write {

Status DecodeSnappyBlock(std::string_view compressed, std::string* out, size_t max_decoded_bytes) {
  size_t n = 0;
  if (!snappy::GetUncompressedLength(compressed.data(), compressed.size(), &n)) {
    return Status::InvalidArgument(
        "cannot decode snappy block: corrupt length header (is the body snappy block format?)");
  }
  if (n > max_decoded_bytes) {
    return Status::ResourceExhausted("cannot decode snappy block: decoded size " +
                                     std::to_string(n) + " bytes exceeds the limit of " +
                                     std::to_string(max_decoded_bytes) + " bytes");
  }
  out->resize(n);
  if (!snappy::RawUncompress(compressed.data(), compressed.size(), out->data())) {
    out->clear();
    return Status::InvalidArgument("cannot decode snappy block: corrupt input");
  }
  return Status::Ok();
}

namespace {

tsdb::MetricType FromProtoType(uint64_t t) {
  switch (t) {
    case 1:
      return tsdb::MetricType::kCounter;
    case 2:
      return tsdb::MetricType::kGauge;
    case 3:
      return tsdb::MetricType::kHistogram;
    case 4:
      return tsdb::MetricType::kGaugeHistogram;
    case 5:
      return tsdb::MetricType::kSummary;
    case 6:
      return tsdb::MetricType::kInfo;
    case 7:
      return tsdb::MetricType::kStateSet;
    default:
      return tsdb::MetricType::kUnknown;
  }
}

// "timeseries 3 (up): "
std::string Where(uint32_t idx, std::string_view name) {
  std::string s = "timeseries " + std::to_string(idx);
  if (!name.empty()) {
    s += " (";
    s += name.substr(0, 128);
    s += ")";
  }
  s += ": ";
  return s;
}

bool DecodeLabel(std::string_view msg, size_t base, LabelView* out, std::string* err) {
  // Fast path for the encoding every client produces: 0a <len> name 12 <len> value, with both
  // lengths < 128 (one-byte varints).
  const auto* b = reinterpret_cast<const uint8_t*>(msg.data());
  size_t n = msg.size();
  if (n >= 4 && b[0] == 0x0a && b[1] < 0x80 && size_t{b[1]} + 4 <= n && b[2 + b[1]] == 0x12) {
    size_t nl = b[1];
    size_t vl = b[3 + nl];
    if (vl < 0x80 && 4 + nl + vl == n) {
      out->name = msg.substr(2, nl);
      out->value = msg.substr(4 + nl, vl);
      return true;
    }
  }
  ProtoReader r(msg, base);
  *out = {};
  while (r.Next()) {
    if (r.field() == 1 || r.field() == 2) {
      if (!r.Expect(WireType::kLen)) break;
      r.ReadBytes(r.field() == 1 ? &out->name : &out->value);
    } else {
      r.Skip();
    }
  }
  if (r.failed()) *err = "label: " + r.error();
  return !r.failed();
}

struct SampleView {
  double value = 0;
  int64_t t = 0;
};

bool DecodeSample(std::string_view msg, size_t base, SampleView* out, std::string* err) {
  ProtoReader r(msg, base);
  *out = {};
  while (r.Next()) {
    if (r.field() == 1) {
      if (!r.Expect(WireType::kFixed64)) break;
      r.ReadDouble(&out->value);
    } else if (r.field() == 2) {
      if (!r.Expect(WireType::kVarint)) break;
      uint64_t u = 0;
      if (r.ReadVarint(&u)) out->t = static_cast<int64_t>(u);
    } else {
      r.Skip();
    }
  }
  if (r.failed()) *err = "sample: " + r.error();
  return !r.failed();
}

// Exemplar { repeated Label labels = 1; double value = 2; int64 timestamp = 3; }; labels go to
// *labels (views into msg).
bool DecodeExemplar(std::string_view msg, size_t base, std::vector<LabelView>* labels,
                    SampleView* out, std::string* err) {
  ProtoReader r(msg, base);
  *out = {};
  labels->clear();
  while (r.Next()) {
    if (r.field() == 1) {
      std::string_view lm;
      if (!r.Expect(WireType::kLen) || !r.ReadBytes(&lm)) break;
      LabelView l;
      if (!DecodeLabel(lm, r.OffsetOf(lm), &l, err)) {
        *err = "exemplar " + *err;
        return false;
      }
      labels->push_back(l);
    } else if (r.field() == 2) {
      if (!r.Expect(WireType::kFixed64)) break;
      r.ReadDouble(&out->value);
    } else if (r.field() == 3) {
      if (!r.Expect(WireType::kVarint)) break;
      uint64_t u = 0;
      if (r.ReadVarint(&u)) out->t = static_cast<int64_t>(u);
    } else {
      r.Skip();
    }
  }
  if (r.failed()) *err = "exemplar: " + r.error();
  return !r.failed();
}

bool DecodeMetadata(std::string_view msg, size_t base, MetadataRow* out, std::string* err) {
  ProtoReader r(msg, base);
  *out = {};
  while (r.Next()) {
    switch (r.field()) {
      case 1: {
        if (!r.Expect(WireType::kVarint)) break;
        uint64_t t = 0;
        if (r.ReadVarint(&t)) out->type = FromProtoType(t);
        break;
      }
      case 2:
        if (r.Expect(WireType::kLen)) r.ReadBytes(&out->metric_family);
        break;
      case 4:
        if (r.Expect(WireType::kLen)) r.ReadBytes(&out->help);
        break;
      case 5:
        if (r.Expect(WireType::kLen)) r.ReadBytes(&out->unit);
        break;
      default:
        r.Skip();
    }
  }
  if (r.failed()) *err = "metadata: " + r.error();
  return !r.failed();
}

// Pending per-row rejections; only applied if the whole request parses (all or nothing).
struct PendingReject {
  RejectReason reason;
  uint64_t n;
  std::string message;
};

}  // namespace

Status Decoder::Decode(std::string_view body, const DecodeOptions& opts, RowSink& sink,
                       DecodeReport& report) {
  batch_.Clear();
  batch_.set_location_unit("timeseries");
  batch_.set_key_context(KeyContext("prom_remote_write", opts));
  std::vector<PendingReject> rejects;
  std::string err;
  uint32_t ts_index = 0;

  auto fail = [&](const std::string& why) {
    batch_.Clear();
    Status st = Status::InvalidArgument("cannot parse remote write request: " + why);
    report.SetRequestError(st);
    return st;
  };

  ProtoReader req(body);
  while (req.Next()) {
    if (req.field() == 1) {
      if (!req.Expect(WireType::kLen)) break;
      std::string_view ts;
      if (!req.ReadBytes(&ts)) break;
      ++ts_index;
      size_t base = req.OffsetOf(ts);
      // Pass 1: labels; count samples and histograms.
      batch_.BeginSeries(ts_index);
      std::string_view name;
      uint64_t n_samples = 0, n_histograms = 0, n_exemplars = 0;
      // The label fields' bytes are the series' raw key when they come first (they always do
      // from Prometheus): [0, labels_end).
      size_t labels_end = 0;
      bool other_seen = false, labels_contiguous = true;
      ProtoReader r(ts, base);
      while (r.Next()) {
        if (r.field() != 1) other_seen = true;
        if (r.field() == 1) {
          if (other_seen) labels_contiguous = false;
          std::string_view lm;
          if (!r.Expect(WireType::kLen) || !r.ReadBytes(&lm)) break;
          LabelView l;
          if (!DecodeLabel(lm, r.OffsetOf(lm), &l, &err)) return fail(err);
          if (l.name == tsdb::kMetricName) name = l.value;
          batch_.AddLabel(l.name, l.value);
          labels_end = r.offset() - base;
        } else if (r.field() == 2) {
          ++n_samples;
          if (!r.Expect(WireType::kLen) || !r.Skip()) break;
        } else if (r.field() == 3) {
          ++n_exemplars;
          if (!r.Expect(WireType::kLen) || !r.Skip()) break;
        } else if (r.field() == 4) {
          ++n_histograms;
          if (!r.Expect(WireType::kLen) || !r.Skip()) break;
        } else {
          r.Skip();
        }
      }
      if (r.failed()) return fail("timeseries " + std::to_string(ts_index) + ": " + r.error());
      if (n_histograms > 0) {
        rejects.push_back({RejectReason::kUnsupported, n_histograms,
                           Where(ts_index, name) +
                               "native histograms are not supported (remote write 1.0 only)"});
      }
      // Prometheus sends exemplars in series entries of their own, without samples.
      if (n_samples == 0 && n_exemplars == 0) {
        batch_.CancelSeries();
        continue;
      }
      if (name.empty()) {
        rejects.push_back({RejectReason::kInvalidLabel, n_samples,
                           Where(ts_index, name) + "series has no metric name (__name__ label)"});
        batch_.CancelSeries();
        continue;
      }
      const SeriesRow& sr = batch_.series().back();
      if (opts.limits.max_labels > 0 && sr.num_labels > opts.limits.max_labels) {
        rejects.push_back({RejectReason::kTooManyLabels, n_samples,
                           Where(ts_index, name) + "series has " + std::to_string(sr.num_labels) +
                               " labels, more than the limit of " +
                               std::to_string(opts.limits.max_labels)});
        batch_.CancelSeries();
        continue;
      }
      bool too_long = false;
      const LabelView* lv = batch_.labels_of(sr);
      for (uint32_t i = 0; i < sr.num_labels && !too_long; ++i) {
        if (lv[i].name.size() > opts.limits.max_label_name_bytes ||
            lv[i].value.size() > opts.limits.max_label_value_bytes) {
          too_long = true;
          rejects.push_back(
              {RejectReason::kLabelTooLong, n_samples,
               Where(ts_index, name) + "label " + Quote(lv[i].name) +
                   " is longer than the limit of " +
                   std::to_string(opts.limits.max_label_name_bytes) + " bytes (name) or " +
                   std::to_string(opts.limits.max_label_value_bytes) + " bytes (value)"});
        }
      }
      if (too_long) {
        batch_.CancelSeries();
        continue;
      }
      AddExtraLabels(batch_, opts);
      if (labels_contiguous) batch_.SetRawKey(ts.substr(0, labels_end));
      // Pass 2: samples.
      ProtoReader r2(ts, base);
      std::string why;
      while (r2.Next()) {
        if (r2.field() == 3) {
          std::string_view em;
          if (!r2.ReadBytes(&em)) break;
          SampleView e;
          if (!DecodeExemplar(em, r2.OffsetOf(em), &ex_labels_, &e, &err)) return fail(err);
          batch_.AddExemplar(ex_labels_.data(), static_cast<uint32_t>(ex_labels_.size()), e.value,
                             e.t);
          continue;
        }
        if (r2.field() != 2) {
          r2.Skip();
          continue;
        }
        std::string_view sm;
        if (!r2.ReadBytes(&sm)) break;
        SampleView s;
        if (!DecodeSample(sm, r2.OffsetOf(sm), &s, &err)) return fail(err);
        if (!CheckTimestamp(s.t, opts, &why)) {
          rejects.push_back({RejectReason::kTimestampOutOfRange, 1, Where(ts_index, name) + why});
          continue;
        }
        batch_.AddSample(s.t, s.value);
      }
      if (r2.failed()) return fail(r2.error());
    } else if (req.field() == 3) {
      std::string_view mm;
      if (!req.Expect(WireType::kLen) || !req.ReadBytes(&mm)) break;
      MetadataRow md;
      if (!DecodeMetadata(mm, req.OffsetOf(mm), &md, &err)) return fail(err);
      if (!md.metric_family.empty()) batch_.AddMetadata(md);
    } else {
      req.Skip();
    }
  }
  if (req.failed()) return fail(req.error());
  // The whole request parsed: report row errors and hand over the rows.
  for (PendingReject& p : rejects) report.RejectN(p.reason, p.n, std::move(p.message));
  Flush(batch_, sink);
  return Status::Ok();
}

Status DecodeWriteRequest(std::string_view body, const DecodeOptions& opts, RowSink& sink,
                          DecodeReport& report) {
  Decoder d;
  return d.Decode(body, opts, sink, report);
}

}  // namespace kansoku::ingest::prom_remote_write
