//go:build !linux

package runtime

import (
	"errors"
	"time"
)

// fileBackCode: only Linux maps machine code from files; elsewhere it
// stays in wazero's anonymous memory.
func fileBackCode(dir string, code []byte) (string, error) {
	return "", errors.New("file-backed machine code needs Linux")
}

// pruneCode: no code files elsewhere.
func pruneCode(dir string, maxAge time.Duration, now time.Time) {}
