package store

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// lockHolder returns the pid of the process holding a flock on path, or 0
// if it cannot tell. flock(2) does not name the holder; /proc/locks does.
func lockHolder(path string) int {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0
	}
	locks, err := os.ReadFile("/proc/locks")
	if err != nil {
		return 0
	}
	dev := uint64(st.Dev) // uint32 on some Linux ports
	return findLockHolder(locks, unix.Major(dev), unix.Minor(dev), st.Ino)
}

// findLockHolder scans the text of /proc/locks for a FLOCK held (not
// waited for) on the file with the given device and inode. A line reads:
//
//	3: FLOCK  ADVISORY  WRITE 1234 fd:01:5243063 0 EOF
//
// with the device's major and minor numbers in hex and the inode in decimal.
// Waiters carry "->" after the ordinal and are skipped.
func findLockHolder(locks []byte, major, minor uint32, ino uint64) int {
	want := fmt.Sprintf("%02x:%02x:%d", major, minor, ino)
	sc := bufio.NewScanner(bytes.NewReader(locks))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 6 || string(f[1]) != "FLOCK" || string(f[5]) != want {
			continue
		}
		pid, err := strconv.Atoi(string(f[4]))
		if err != nil || pid <= 0 {
			continue
		}
		return pid
	}
	return 0
}
