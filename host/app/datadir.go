package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/moonrelay/moonrelay/host/server"
)

// Folders is the layout of the data folder ([server] data_path).
type Folders struct {
	Root     string
	Gcodes   string
	Config   string
	Database string
	Logs     string
	Cache    string
	Plugins  string
	Comms    string
}

// NewFolders returns the layout under root without touching the disk.
func NewFolders(root string) Folders {
	return Folders{
		Root:     root,
		Gcodes:   filepath.Join(root, "gcodes"),
		Config:   filepath.Join(root, "config"),
		Database: filepath.Join(root, "database"),
		Logs:     filepath.Join(root, "logs"),
		Cache:    filepath.Join(root, "cache"),
		Plugins:  filepath.Join(root, "plugins"),
		Comms:    filepath.Join(root, "comms"),
	}
}

// Create makes every folder that is missing.
func (f Folders) Create() error {
	for _, d := range []string{f.Root, f.Gcodes, f.Config, f.Database, f.Logs, f.Cache, f.Plugins, f.Comms} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create data folder %s: %w (check [server] data_path and its permissions)", d, err)
		}
	}
	// The database folder holds the API key: keep it private.
	return os.Chmod(f.Database, 0o700)
}

// APIKeyFile is where the API key is kept, readable by its owner only.
func (f Folders) APIKeyFile() string { return filepath.Join(f.Database, "api_key") }

// LoadOrCreateAPIKey returns the API key, generating and saving one on
// first start.
func (f Folders) LoadOrCreateAPIKey() (string, error) {
	key, err := f.ReadAPIKey()
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	key = server.NewAPIKey()
	tmp := f.APIKeyFile() + ".tmp"
	if err := os.WriteFile(tmp, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save API key: %w", err)
	}
	if err := os.Rename(tmp, f.APIKeyFile()); err != nil {
		return "", fmt.Errorf("save API key: %w", err)
	}
	return key, nil
}

// ReadAPIKey reads the saved API key.
func (f Folders) ReadAPIKey() (string, error) {
	b, err := os.ReadFile(f.APIKeyFile())
	if err != nil {
		return "", err
	}
	key := strings.TrimSpace(string(b))
	if key == "" {
		return "", fmt.Errorf("API key file %s is empty: delete it and restart moonrelay to make a new key", f.APIKeyFile())
	}
	return key, nil
}
