package app

import (
	"io"
	"log/slog"
	"path/filepath"

	"gopkg.in/natefinch/lumberjack.v2"
)

// LogOptions choose how moonrelay logs.
type LogOptions struct {
	// Format is "text" (default) or "json" for stderr.
	Format string
	// Debug lowers the level to debug.
	Debug bool
	// Stderr is where terminal logs go (os.Stderr in the binary).
	Stderr io.Writer
}

// NewLogger logs to stderr and to a rotating file logs/moonrelay.log in the
// data folder (10 MiB a file, 5 kept, compressed). The returned closer
// closes the file.
func NewLogger(folders Folders, opts LogOptions) (*slog.Logger, io.Closer) {
	level := slog.LevelInfo
	if opts.Debug {
		level = slog.LevelDebug
	}
	ho := &slog.HandlerOptions{Level: level}
	var term slog.Handler
	if opts.Format == "json" {
		term = slog.NewJSONHandler(opts.Stderr, ho)
	} else {
		term = slog.NewTextHandler(opts.Stderr, ho)
	}
	file := &lumberjack.Logger{
		Filename:   filepath.Join(folders.Logs, "moonrelay.log"),
		MaxSize:    10,
		MaxBackups: 5,
		Compress:   true,
	}
	return slog.New(slog.NewMultiHandler(term, slog.NewTextHandler(file, ho))), file
}
