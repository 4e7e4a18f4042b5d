package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// mib is one mebibyte, the unit of a size written as a bare number.
const mib = 1 << 20

// ParseSize reads a size in bytes from a config value.
//
// It accepts what the owner may write:
//   - a number, meaning MiB, as Moonraker does: 1024 is 1 GiB, 0.5 is 512 KiB;
//   - text with a unit: "512MiB", "1GiB", "200MB", "64 KiB", "1.5G", "4096B".
//     KB, MB, GB and TB are powers of 1000; KiB, MiB, GiB and TiB, and the
//     short K, M, G and T, are powers of 1024. Case does not matter. Text
//     without a unit is MiB, like a bare number.
//
// Negative sizes are refused; zero is allowed, so callers that need a
// positive size check for it. The error text is written for the printer's
// owner and is meant to follow the key name: "must be a size such as ...".
func ParseSize(v any) (int64, error) {
	var n float64
	unit := int64(mib)
	switch v := v.(type) {
	case int64:
		n = float64(v)
	case int:
		n = float64(v)
	case float64:
		n = v
	case string:
		s := strings.TrimSpace(v)
		i := strings.IndexFunc(s, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' || r == '+') })
		num, suffix := s, ""
		if i >= 0 {
			num, suffix = s[:i], strings.TrimSpace(s[i:])
		}
		f, err := strconv.ParseFloat(strings.ReplaceAll(num, "_", ""), 64)
		u, ok := sizeUnit(suffix)
		if err != nil || !ok {
			return 0, sizeError(v)
		}
		n, unit = f, u
	default:
		return 0, sizeError(v)
	}
	if math.IsNaN(n) || math.IsInf(n, 0) {
		return 0, sizeError(v)
	}
	if n < 0 {
		return 0, fmt.Errorf("must not be negative, got %s", shortValue(v))
	}
	bytes := n * float64(unit)
	if bytes >= math.MaxInt64 {
		return 0, fmt.Errorf("is too large, got %s", shortValue(v))
	}
	return int64(bytes), nil
}

// sizeUnit returns the number of bytes in a unit; "" is MiB.
func sizeUnit(u string) (int64, bool) {
	switch strings.ToLower(u) {
	case "":
		return mib, true
	case "b":
		return 1, true
	case "kb":
		return 1e3, true
	case "mb":
		return 1e6, true
	case "gb":
		return 1e9, true
	case "tb":
		return 1e12, true
	case "k", "kib":
		return 1 << 10, true
	case "m", "mib":
		return 1 << 20, true
	case "g", "gib":
		return 1 << 30, true
	case "t", "tib":
		return 1 << 40, true
	}
	return 0, false
}

// sizeError says what a size looks like.
func sizeError(v any) error {
	return fmt.Errorf(`must be a size such as "512MiB", "1GiB" or "200MB", or a number of MiB, got %s`, shortValue(v))
}
