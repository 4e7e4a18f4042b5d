package files

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// thumbScanLimit bounds how much of a file is read looking for thumbnails;
// slicers write them in the header.
const thumbScanLimit = 4 << 20

// Thumbnail returns the absolute path of the largest PNG or JPG thumbnail
// embedded in the gcodes-relative file (PrusaSlicer, SuperSlicer, Orca,
// Bambu, Cura with the plugin, "; thumbnail begin WxH LEN" blocks), written
// next to it under .thumbs/ as Moonraker does; "" when there is none.
func (m *Manager) Thumbnail(name string) string {
	abs, err := m.Resolve("gcodes", name)
	if err != nil {
		return ""
	}
	st, err := os.Stat(abs)
	if err != nil || st.IsDir() {
		return ""
	}
	base := strings.TrimSuffix(filepath.Base(abs), filepath.Ext(abs))
	thumbs := filepath.Join(filepath.Dir(abs), ".thumbs")
	// A thumbnail newer than the file is current.
	if matches, _ := filepath.Glob(filepath.Join(thumbs, base+"-*.*")); len(matches) > 0 {
		best, bestArea := "", 0
		for _, p := range matches {
			var w, h int
			if _, err := fmt.Sscanf(strings.TrimPrefix(filepath.Base(p), base+"-"), "%dx%d", &w, &h); err == nil && w*h > bestArea {
				if ts, err := os.Stat(p); err == nil && !ts.ModTime().Before(st.ModTime()) {
					best, bestArea = p, w*h
				}
			}
		}
		if best != "" {
			return best
		}
	}
	img, w, h, ext, err := largestThumbnail(abs)
	if err != nil || img == nil {
		return ""
	}
	if err := os.MkdirAll(thumbs, 0o755); err != nil {
		return ""
	}
	out := filepath.Join(thumbs, fmt.Sprintf("%s-%dx%d.%s", base, w, h, ext))
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, img, 0o644); err != nil {
		return ""
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return ""
	}
	return out
}

// largestThumbnail scans the head of a G-code file for base64 thumbnail
// blocks and decodes the largest.
func largestThumbnail(path string) (data []byte, w, h int, ext string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, thumbScanLimit))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var cur strings.Builder
	in, cw, ch, cext := false, 0, 0, ""
	bestArea := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, ";") {
			if in {
				in = false
			}
			continue
		}
		body := strings.TrimSpace(strings.TrimPrefix(line, ";"))
		if !in {
			// "thumbnail begin 300x300 12345", "thumbnail_JPG begin …", "thumbnail_PNG begin …"
			kind, rest, ok := strings.Cut(body, " begin ")
			if !ok || !strings.HasPrefix(kind, "thumbnail") {
				continue
			}
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				continue
			}
			dims := strings.SplitN(fields[0], "x", 2)
			if len(dims) != 2 {
				continue
			}
			cw, _ = strconv.Atoi(dims[0])
			ch, _ = strconv.Atoi(dims[1])
			switch kind {
			case "thumbnail", "thumbnail_PNG":
				cext = "png"
			case "thumbnail_JPG":
				cext = "jpg"
			default:
				continue // QOI and others are not images a service shows
			}
			in = true
			cur.Reset()
			continue
		}
		if strings.Contains(body, "thumbnail") && strings.Contains(body, " end") {
			in = false
			if cw*ch > bestArea {
				if img, derr := base64.StdEncoding.DecodeString(cur.String()); derr == nil {
					data, w, h, ext, bestArea = img, cw, ch, cext, cw*ch
				}
			}
			continue
		}
		cur.WriteString(body)
	}
	return data, w, h, ext, sc.Err()
}

// LocalFile returns the absolute path of a local attachment if it lies
// inside the gcodes or config folder (symlinks resolved), or an error
// naming the allowed folders.
func (m *Manager) LocalFile(p string) (string, error) {
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[2:])
		}
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("file not found")
	}
	for _, r := range m.roots {
		rootReal, err := filepath.EvalSymlinks(r.Path)
		if err == nil && within(rootReal, real) {
			if st, err := os.Stat(real); err != nil || st.IsDir() {
				return "", fmt.Errorf("not a file")
			}
			return real, nil
		}
	}
	return "", fmt.Errorf("only files inside %s or %s can be attached", m.roots["gcodes"].Path, m.roots["config"].Path)
}
