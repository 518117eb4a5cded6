#include "net/decode.h"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <libdeflate.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "base/strings.h"

namespace kansoku::net {
namespace {

Status TooLarge(size_t max) {
  return Status::ResourceExhausted("decoded body exceeds the limit of " +
                                   FormatByteSize(static_cast<int64_t>(max)) + " (" +
                                   std::to_string(max) + " bytes)");
}

// gzip / zlib / raw deflate with libdeflate (several times faster than zlib's inflate, and its
// CRC-32 uses PCLMUL). libdeflate decodes whole buffers: the output starts at a size hint and
// doubles while it is too small, up to max. gzip members may be concatenated (RFC 1952).
enum class DeflateFormat { kGzip, kZlib, kRaw };

libdeflate_decompressor* ThreadDecompressor() {
  struct Free {
    void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
  };
  thread_local std::unique_ptr<libdeflate_decompressor, Free> d(libdeflate_alloc_decompressor());
  return d.get();
}

Result<std::string> Libdeflate(std::string_view in, size_t max, DeflateFormat fmt,
                               const char* name) {
  libdeflate_decompressor* d = ThreadDecompressor();
  if (d == nullptr) return Status::Internal("cannot allocate a deflate decompressor");
  std::string out;
  size_t pos = 0;
  do {
    const char* p = in.data() + pos;
    size_t n = in.size() - pos;
    size_t room = max - out.size();
    // Deflate cannot expand more than ~1032:1; gzip's trailer says the (last) member's size.
    size_t bound = n * 1032 + 64;
    size_t hint = n * 4 + 1024;
    if (fmt == DeflateFormat::kGzip && n >= 18) {
      const auto* t = reinterpret_cast<const uint8_t*>(in.data() + in.size() - 4);
      size_t isize = t[0] | (t[1] << 8) | (t[2] << 16) | (static_cast<size_t>(t[3]) << 24);
      if (isize > 0) hint = isize;
    }
    size_t cap = std::max<size_t>(1, std::min({room, bound, hint}));
    // Spare capacity past the end lets a JSON parser read the result in place
    // (kDecodedPadding, decode.h) instead of copying it into a padded buffer.
    out.reserve(out.size() + cap + kDecodedPadding);
    for (;;) {
      size_t base = out.size();
      out.resize(base + cap);
      size_t used = 0, got = 0;
      libdeflate_result r;
      switch (fmt) {
        case DeflateFormat::kGzip:
          r = libdeflate_gzip_decompress_ex(d, p, n, out.data() + base, cap, &used, &got);
          break;
        case DeflateFormat::kZlib:
          r = libdeflate_zlib_decompress_ex(d, p, n, out.data() + base, cap, &used, &got);
          break;
        default:
          r = libdeflate_deflate_decompress_ex(d, p, n, out.data() + base, cap, &used, &got);
      }
      if (r == LIBDEFLATE_SUCCESS) {
        out.resize(base + got);
        pos += used;
        break;
      }
      out.resize(base);
      if (r == LIBDEFLATE_INSUFFICIENT_SPACE) {
        if (cap >= room) return TooLarge(max);
        cap = std::min(room, cap * 2);
        continue;
      }
      return Status::InvalidArgument(std::string("cannot decode ") + name +
                                     " body: corrupt or truncated stream");
    }
  } while (fmt == DeflateFormat::kGzip && pos < in.size());
  return out;
}

Result<std::string> Zstd(std::string_view in, size_t max) {
  ZSTD_DStream* ds = ZSTD_createDStream();
  std::string out;
  ZSTD_inBuffer ib{in.data(), in.size(), 0};
  char buf[65536];
  size_t last = 1;
  while (ib.pos < ib.size || last != 0) {
    ZSTD_outBuffer ob{buf, sizeof buf, 0};
    last = ZSTD_decompressStream(ds, &ob, &ib);
    if (ZSTD_isError(last)) {
      std::string msg = std::string("cannot decode zstd body: ") + ZSTD_getErrorName(last);
      ZSTD_freeDStream(ds);
      return Status::InvalidArgument(msg);
    }
    if (out.size() + ob.pos > max) {
      ZSTD_freeDStream(ds);
      return TooLarge(max);
    }
    out.append(buf, ob.pos);
    if (ib.pos == ib.size && ob.pos == 0 && last != 0) {
      ZSTD_freeDStream(ds);
      return Status::InvalidArgument("cannot decode zstd body: truncated stream");
    }
  }
  ZSTD_freeDStream(ds);
  return out;
}

Result<std::string> Brotli(std::string_view in, size_t max) {
  BrotliDecoderState* st = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
  std::string out;
  size_t avail_in = in.size();
  const uint8_t* next_in = reinterpret_cast<const uint8_t*>(in.data());
  uint8_t buf[65536];
  while (true) {
    size_t avail_out = sizeof buf;
    uint8_t* next_out = buf;
    BrotliDecoderResult r =
        BrotliDecoderDecompressStream(st, &avail_in, &next_in, &avail_out, &next_out, nullptr);
    size_t produced = sizeof buf - avail_out;
    if (out.size() + produced > max) {
      BrotliDecoderDestroyInstance(st);
      return TooLarge(max);
    }
    out.append(reinterpret_cast<char*>(buf), produced);
    if (r == BROTLI_DECODER_RESULT_SUCCESS) break;
    if (r == BROTLI_DECODER_RESULT_ERROR) {
      std::string msg = std::string("cannot decode br body: ") +
                        BrotliDecoderErrorString(BrotliDecoderGetErrorCode(st));
      BrotliDecoderDestroyInstance(st);
      return Status::InvalidArgument(msg);
    }
    if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) {
      BrotliDecoderDestroyInstance(st);
      return Status::InvalidArgument("cannot decode br body: truncated stream");
    }
  }
  BrotliDecoderDestroyInstance(st);
  return out;
}

constexpr std::string_view kSnappyStreamMagic("\xff\x06\x00\x00sNaPpY", 10);

Result<std::string> SnappyFramed(std::string_view in, size_t max) {
  std::string out;
  size_t pos = 0;
  while (pos < in.size()) {
    if (in.size() - pos < 4)
      return Status::InvalidArgument("cannot decode snappy stream: truncated chunk header");
    uint8_t type = static_cast<uint8_t>(in[pos]);
    size_t len = static_cast<uint8_t>(in[pos + 1]) | (static_cast<uint8_t>(in[pos + 2]) << 8) |
                 (static_cast<size_t>(static_cast<uint8_t>(in[pos + 3])) << 16);
    pos += 4;
    if (in.size() - pos < len)
      return Status::InvalidArgument("cannot decode snappy stream: truncated chunk");
    std::string_view chunk = in.substr(pos, len);
    pos += len;
    if (type == 0x00 || type == 0x01) {
      if (chunk.size() < 4)
        return Status::InvalidArgument("cannot decode snappy stream: short chunk");
      std::string_view data = chunk.substr(4);  // skip masked CRC-32C (not verified)
      if (type == 0x01) {
        if (out.size() + data.size() > max) return TooLarge(max);
        out.append(data);
      } else {
        size_t ulen = 0;
        if (!snappy::GetUncompressedLength(data.data(), data.size(), &ulen))
          return Status::InvalidArgument("cannot decode snappy stream: corrupt chunk");
        if (out.size() + ulen > max) return TooLarge(max);
        std::string tmp;
        if (!snappy::Uncompress(data.data(), data.size(), &tmp))
          return Status::InvalidArgument("cannot decode snappy stream: corrupt chunk");
        out += tmp;
      }
    } else if (type == 0xff || (type >= 0x80 && type <= 0xfe)) {
      continue;  // stream identifier or skippable
    } else {
      return Status::InvalidArgument("cannot decode snappy stream: reserved chunk type " +
                                     std::to_string(type));
    }
  }
  return out;
}

Result<std::string> Snappy(std::string_view in, size_t max) {
  if (StartsWith(in, kSnappyStreamMagic)) return SnappyFramed(in, max);
  size_t ulen = 0;
  if (!snappy::GetUncompressedLength(in.data(), in.size(), &ulen)) {
    return Status::InvalidArgument("cannot decode snappy body: corrupt block header");
  }
  if (ulen > max) return TooLarge(max);
  std::string out;
  if (!snappy::Uncompress(in.data(), in.size(), &out)) {
    return Status::InvalidArgument("cannot decode snappy body: corrupt block");
  }
  return out;
}

Result<std::string> DecodeOne(std::string_view enc, std::string_view in, size_t max) {
  if (enc.empty() || enc == "identity") {
    if (in.size() > max) return TooLarge(max);
    return std::string(in);
  }
  if (enc == "gzip" || enc == "x-gzip") return Libdeflate(in, max, DeflateFormat::kGzip, "gzip");
  if (enc == "deflate") {
    // RFC 9110 says zlib-wrapped; some clients send raw deflate. Look at the zlib header.
    bool zlib_header = in.size() >= 2 && (static_cast<uint8_t>(in[0]) & 0x0f) == 8 &&
                       ((static_cast<uint8_t>(in[0]) << 8) | static_cast<uint8_t>(in[1])) % 31 == 0;
    return Libdeflate(in, max, zlib_header ? DeflateFormat::kZlib : DeflateFormat::kRaw, "deflate");
  }
  if (enc == "zstd") return Zstd(in, max);
  if (enc == "br") return Brotli(in, max);
  if (enc == "snappy") return Snappy(in, max);
  return Status::InvalidArgument("unsupported Content-Encoding \"" + std::string(enc) +
                                 "\" (supported: gzip, deflate, zstd, snappy, br, identity)");
}

}  // namespace

Result<std::string> DecodeContent(std::string_view content_encoding, std::string_view body,
                                  size_t max_decoded) {
  std::vector<std::string> encs;
  for (std::string_view e : Split(content_encoding, ',')) {
    std::string s = ToLower(TrimSpace(e));
    if (!s.empty()) encs.push_back(std::move(s));
  }
  if (encs.empty()) return DecodeOne("", body, max_decoded);
  if (encs.size() == 1) return DecodeOne(encs[0], body, max_decoded);  // no copy of the body
  std::string cur(body);
  for (auto it = encs.rbegin(); it != encs.rend(); ++it) {
    auto r = DecodeOne(*it, cur, max_decoded);
    if (!r.ok()) return r.status();
    cur = std::move(r).value();
  }
  return cur;
}

Result<std::string> EncodeContent(std::string_view encoding, std::string_view body) {
  std::string out;
  if (encoding == "gzip" || encoding == "deflate") {
    z_stream zs;
    std::memset(&zs, 0, sizeof zs);
    deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, encoding == "gzip" ? 16 + 15 : 15, 8,
                 Z_DEFAULT_STRATEGY);
    out.resize(deflateBound(&zs, body.size()) + 32);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
    zs.avail_in = static_cast<uInt>(body.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
  }
  if (encoding == "zstd") {
    out.resize(ZSTD_compressBound(body.size()));
    size_t n = ZSTD_compress(out.data(), out.size(), body.data(), body.size(), 3);
    out.resize(n);
    return out;
  }
  if (encoding == "br") {
    size_t n = BrotliEncoderMaxCompressedSize(body.size()) + 16;
    out.resize(n);
    BrotliEncoderCompress(BROTLI_DEFAULT_QUALITY, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC,
                          body.size(), reinterpret_cast<const uint8_t*>(body.data()), &n,
                          reinterpret_cast<uint8_t*>(out.data()));
    out.resize(n);
    return out;
  }
  if (encoding == "snappy") {
    snappy::Compress(body.data(), body.size(), &out);
    return out;
  }
  if (encoding.empty() || encoding == "identity") return std::string(body);
  return Status::InvalidArgument("unsupported encoding " + std::string(encoding));
}

}  // namespace kansoku::net
