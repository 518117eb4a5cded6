#include "logs/ingest/loki/parser.h"

#include <simdjson.h>

#include <cctype>

#include "ingest/common/protowire.h"

namespace kansoku::logs::ingest::loki {
namespace {

void AddSource(std::vector<KV>* labels) {
  for (const auto& l : *labels)
    if (l.name == "source") return;
  labels->push_back(KV{"source", "loki"});
}

bool ParseNanos(std::string_view s, int64_t* ns) {
  if (s.empty() || s.size() > 19) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *ns = v;
  return true;
}

}  // namespace

Status ParseLabels(std::string_view s, std::vector<KV>* out) {
  size_t i = 0;
  auto ws = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) ++i;
  };
  ws();
  if (i >= s.size() || s[i] != '{') return Status::InvalidArgument("labels must start with '{'");
  ++i;
  for (;;) {
    ws();
    if (i < s.size() && s[i] == '}') {
      ++i;
      break;
    }
    if (!out->empty()) {
      if (i >= s.size() || s[i] != ',') return Status::InvalidArgument("expected ',' in labels");
      ++i;
      ws();
      if (i < s.size() && s[i] == '}') {
        ++i;
        break;
      }
    }
    size_t b = i;
    while (i < s.size() &&
           (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_' || s[i] == '.'))
      ++i;
    if (i == b)
      return Status::InvalidArgument("expected a label name at offset " + std::to_string(i));
    KV kv;
    kv.name = std::string(s.substr(b, i - b));
    ws();
    if (i >= s.size() || s[i] != '=')
      return Status::InvalidArgument("expected '=' after " + kv.name);
    ++i;
    ws();
    if (i >= s.size() || s[i] != '"')
      return Status::InvalidArgument("expected '\"' for " + kv.name);
    ++i;
    while (i < s.size() && s[i] != '"') {
      if (s[i] == '\\' && i + 1 < s.size()) {
        ++i;
        kv.value += s[i] == 'n' ? '\n' : s[i];
        ++i;
        continue;
      }
      kv.value += s[i++];
    }
    if (i >= s.size()) return Status::InvalidArgument("unterminated label value for " + kv.name);
    ++i;
    out->push_back(std::move(kv));
  }
  ws();
  if (i != s.size()) return Status::InvalidArgument("trailing bytes after labels");
  return Status::Ok();
}

Status ParseJson(std::string_view body, LogBatch* out, Report* report) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  auto err = parser.parse(body.data(), body.size()).get(root);
  if (err)
    return Status::InvalidArgument(std::string("cannot parse JSON: ") +
                                   simdjson::error_message(err));
  simdjson::dom::array streams;
  if (root["streams"].get_array().get(streams)) {
    return Status::InvalidArgument("expected {\"streams\":[...]}");
  }
  size_t si = 0;
  for (auto st : streams) {
    std::vector<KV> labels;
    simdjson::dom::object lo;
    if (!st["stream"].get_object().get(lo)) {
      for (auto [k, v] : lo) {
        std::string_view sv;
        if (v.get_string().get(sv)) {
          return Status::InvalidArgument("streams[" + std::to_string(si) + "].stream." +
                                         std::string(k) + ": label values must be strings");
        }
        labels.push_back(KV{std::string(k), std::string(sv)});
      }
    }
    AddSource(&labels);
    simdjson::dom::array values;
    if (st["values"].get_array().get(values)) {
      return Status::InvalidArgument("streams[" + std::to_string(si) +
                                     "]: expected \"values\": [[ts, line], ...]");
    }
    size_t vi = 0;
    for (auto e : values) {
      simdjson::dom::array a;
      std::string_view ts, line;
      std::string where = "streams[" + std::to_string(si) + "].values[" + std::to_string(vi) + "]";
      if (e.get_array().get(a) || a.size() < 2 || a.at(1).get_string().get(line)) {
        return Status::InvalidArgument(where + ": expected [\"<unix ns>\", \"<line>\"]");
      }
      LogRecord r;
      r.labels = labels;
      r.msg = std::string(line);
      int64_t ns = 0;
      bool ts_ok = false;
      if (!a.at(0).get_string().get(ts)) {
        ts_ok = ParseNanos(ts, &ns);
      } else {
        int64_t iv;
        if (!a.at(0).get_int64().get(iv)) {
          ns = iv;
          ts_ok = true;
        }
      }
      if (!ts_ok) {
        r.SetParseError("cannot parse timestamp; used the arrival time");
        report->flagged++;
        report->Error(where + ": cannot parse timestamp");
      } else {
        r.ts_ns = ns;
      }
      simdjson::dom::object md;
      if (a.size() >= 3 && !a.at(2).get_object().get(md)) {
        for (auto [k, v] : md) {
          std::string_view sv;
          if (!v.get_string().get(sv))
            r.fields.push_back(KV{std::string(k), std::string(sv)});
          else
            r.fields.push_back(KV{std::string(k), simdjson::minify(v)});
        }
      }
      out->push_back(std::move(r));
      report->records++;
      ++vi;
    }
    if (vi == 0)
      report->rejected++, report->Error("streams[" + std::to_string(si) + "]: no values");
    ++si;
  }
  return Status::Ok();
}

Status ParseProto(std::string_view body, LogBatch* out, Report* report) {
  using kansoku::ingest::ProtoReader;
  using kansoku::ingest::WireType;
  ProtoReader req(body);
  size_t si = 0;
  auto fail = [](const ProtoReader& r, const std::string& where) {
    return Status::InvalidArgument("cannot parse PushRequest: " + where + ": " + r.error() +
                                   " at offset " + std::to_string(r.offset()));
  };
  while (req.Next()) {
    if (req.field() != 1) {
      if (!req.Skip()) return fail(req, "skip");
      continue;
    }
    std::string_view stream;
    if (!req.Expect(WireType::kLen) || !req.ReadBytes(&stream)) return fail(req, "streams");
    ProtoReader sr(stream, req.OffsetOf(stream));
    std::string_view label_str;
    std::vector<std::string_view> entries;
    while (sr.Next()) {
      if (sr.field() == 1) {
        if (!sr.Expect(WireType::kLen) || !sr.ReadBytes(&label_str)) return fail(sr, "labels");
      } else if (sr.field() == 2) {
        std::string_view e;
        if (!sr.Expect(WireType::kLen) || !sr.ReadBytes(&e)) return fail(sr, "entries");
        entries.push_back(e);
      } else if (!sr.Skip()) {
        return fail(sr, "stream");
      }
    }
    if (sr.failed()) return fail(sr, "stream");
    std::vector<KV> labels;
    Status lst = ParseLabels(label_str, &labels);
    bool bad_labels = !lst.ok();
    if (bad_labels) {
      labels.clear();
      report->Error("streams[" + std::to_string(si) + "]: labels " + lst.message());
    }
    AddSource(&labels);
    for (std::string_view e : entries) {
      ProtoReader er(e, sr.OffsetOf(e));
      LogRecord r;
      r.labels = labels;
      while (er.Next()) {
        if (er.field() == 1) {
          std::string_view tsb;
          if (!er.Expect(WireType::kLen) || !er.ReadBytes(&tsb)) return fail(er, "timestamp");
          ProtoReader tr(tsb);
          int64_t secs = 0, nanos = 0;
          while (tr.Next()) {
            uint64_t v;
            if ((tr.field() == 1 || tr.field() == 2) && tr.Expect(WireType::kVarint) &&
                tr.ReadVarint(&v)) {
              (tr.field() == 1 ? secs : nanos) = static_cast<int64_t>(v);
            } else if (!tr.Skip()) {
              break;
            }
          }
          if (tr.failed()) return fail(tr, "timestamp");
          r.ts_ns = secs * 1000000000LL + nanos;
        } else if (er.field() == 2) {
          std::string_view line;
          if (!er.Expect(WireType::kLen) || !er.ReadBytes(&line)) return fail(er, "line");
          r.msg = std::string(line);
        } else if (er.field() == 3) {
          std::string_view pair;
          if (!er.Expect(WireType::kLen) || !er.ReadBytes(&pair)) return fail(er, "metadata");
          ProtoReader pr(pair);
          KV kv;
          while (pr.Next()) {
            std::string_view s;
            if ((pr.field() == 1 || pr.field() == 2) && pr.Expect(WireType::kLen) &&
                pr.ReadBytes(&s)) {
              (pr.field() == 1 ? kv.name : kv.value) = std::string(s);
            } else if (!pr.Skip()) {
              break;
            }
          }
          if (pr.failed()) return fail(pr, "metadata");
          if (!kv.name.empty()) r.fields.push_back(std::move(kv));
        } else if (!er.Skip()) {
          return fail(er, "entry");
        }
      }
      if (er.failed()) return fail(er, "entry");
      if (bad_labels) {
        r.fields.push_back(KV{"_labels", std::string(label_str)});
        r.SetParseError("cannot parse stream labels: " + lst.message());
        report->flagged++;
      }
      out->push_back(std::move(r));
      report->records++;
    }
    if (entries.empty()) report->rejected++;
    ++si;
  }
  if (req.failed()) return fail(req, "PushRequest");
  return Status::Ok();
}

int FuzzLokiJson(const uint8_t* data, size_t size) {
  LogBatch b;
  Report r;
  (void)ParseJson(std::string_view(reinterpret_cast<const char*>(data), size), &b, &r);
  return 0;
}
int FuzzLokiProto(const uint8_t* data, size_t size) {
  LogBatch b;
  Report r;
  (void)ParseProto(std::string_view(reinterpret_cast<const char*>(data), size), &b, &r);
  return 0;
}

}  // namespace kansoku::logs::ingest::loki
