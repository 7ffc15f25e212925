// Percentiles, medians and plain-text tables for the comparison harness.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace cairn_bench {

struct Percentiles {
  double p50_us = 0;
  double p99_us = 0;
  double p999_us = 0;
  double max_us = 0;
  std::uint64_t samples = 0;
};

// Nearest-rank percentile of an ascending vector: the smallest sample with at
// least q of the samples at or below it.
inline double nearest_rank(const std::vector<std::uint64_t>& sorted, double q) {
  if (sorted.empty()) {
    return 0;
  }
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return static_cast<double>(sorted[rank - 1]);
}

// Latencies in nanoseconds, in any order (the vector is sorted in place).
inline Percentiles percentiles_ns(std::vector<std::uint64_t>& latencies_ns) {
  Percentiles p;
  if (latencies_ns.empty()) {
    return p;
  }
  std::sort(latencies_ns.begin(), latencies_ns.end());
  p.p50_us = nearest_rank(latencies_ns, 0.50) / 1000.0;
  p.p99_us = nearest_rank(latencies_ns, 0.99) / 1000.0;
  p.p999_us = nearest_rank(latencies_ns, 0.999) / 1000.0;
  p.max_us = static_cast<double>(latencies_ns.back()) / 1000.0;
  p.samples = latencies_ns.size();
  return p;
}

// Index of the median of `values` (the lower one of the middle two for an
// even count, so the choice is always a measured value).
inline std::size_t median_index(const std::vector<double>& values) {
  std::vector<std::size_t> order(values.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::sort(order.begin(), order.end(),
            [&values](std::size_t a, std::size_t b) { return values[a] < values[b]; });
  return order.empty() ? 0 : order[(order.size() - 1) / 2];
}

// 1234567 -> "1,234,567".
inline std::string with_commas(double value) {
  if (!std::isfinite(value)) {
    return "-";
  }
  auto n = static_cast<long long>(std::llround(value));
  bool negative = n < 0;
  std::string digits = std::to_string(negative ? -n : n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) {
      out.push_back(',');
    }
    out.push_back(digits[i]);
  }
  return negative ? "-" + out : out;
}

inline std::string fixed(double value, int decimals) {
  if (!std::isfinite(value)) {
    return "-";
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

// A ratio printed as "1.23x"; "-" when either side is missing.
inline std::string ratio(double numerator, double denominator) {
  if (!(numerator > 0) || !(denominator > 0)) {
    return "-";
  }
  double r = numerator / denominator;
  return fixed(r, r >= 100 ? 0 : r >= 0.1 ? 2 : 3) + "x";
}

// A plain-text table: first column left-aligned, the others right-aligned.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

  void add(std::vector<std::string> row) {
    row.resize(headers_.size());
    rows_.push_back(std::move(row));
  }

  void print(std::FILE* out) const {
    std::vector<std::size_t> width(headers_.size(), 0);
    auto measure = [&width](const std::vector<std::string>& row) {
      for (std::size_t i = 0; i < row.size(); ++i) {
        width[i] = std::max(width[i], display_width(row[i]));
      }
    };
    measure(headers_);
    for (const auto& row : rows_) {
      measure(row);
    }
    auto print_row = [&](const std::vector<std::string>& row) {
      std::string line;
      for (std::size_t i = 0; i < row.size(); ++i) {
        std::string pad(width[i] - display_width(row[i]), ' ');
        line += i == 0 ? row[i] + pad : "  " + pad + row[i];
      }
      while (!line.empty() && line.back() == ' ') {
        line.pop_back();
      }
      std::fprintf(out, "%s\n", line.c_str());
    };
    print_row(headers_);
    std::size_t total = 0;
    for (std::size_t w : width) {
      total += w + 2;
    }
    std::fprintf(out, "%s\n", std::string(total - 2, '-').c_str());
    for (const auto& row : rows_) {
      print_row(row);
    }
  }

 private:
  // Counts UTF-8 code points, so "µs" is two columns wide.
  static std::size_t display_width(const std::string& s) {
    std::size_t n = 0;
    for (unsigned char c : s) {
      if ((c & 0xC0) != 0x80) {
        ++n;
      }
    }
    return n;
  }

  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace cairn_bench
