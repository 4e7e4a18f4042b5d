package klippy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// Info asks Klippy for its info (state, versions, paths).
func (c *Client) Info(ctx context.Context) (Info, error) {
	raw, err := c.Request(ctx, "info", nil)
	if err != nil {
		return Info{}, err
	}
	var info Info
	if err := json.Unmarshal(raw, &info); err != nil {
		return Info{}, fmt.Errorf("klippy: info: decode reply: %w", err)
	}
	info.Raw = raw
	return info, nil
}

// ListObjects returns the names of Klippy's printer objects (objects/list).
func (c *Client) ListObjects(ctx context.Context) ([]string, error) {
	raw, err := c.Request(ctx, "objects/list", nil)
	if err != nil {
		return nil, err
	}
	var r struct {
		Objects []string `json:"objects"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("klippy: objects/list: decode reply: %w", err)
	}
	return r.Objects, nil
}

// QueryObjects returns the current values of objects (name → fields, nil
// for all fields) with Klippy's eventtime (objects/query). Unknown objects
// come back as empty maps, as Klippy sends them.
func (c *Client) QueryObjects(ctx context.Context, objects map[string][]string) (status map[string]map[string]any, eventtime float64, err error) {
	raw, err := c.Request(ctx, "objects/query", map[string]any{"objects": objects})
	if err != nil {
		return nil, 0, err
	}
	var r statusParams
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, 0, fmt.Errorf("klippy: objects/query: decode reply: %w", err)
	}
	return r.Status, r.EventTime, nil
}

// GcodeScript runs G-code (lines separated by '\n') and returns when
// Klippy has run it. A G-code error comes back as *Error with Klippy's
// message. No default timeout applies: bound it with ctx if needed.
func (c *Client) GcodeScript(ctx context.Context, script string) error {
	_, err := c.Request(ctx, "gcode/script", map[string]any{"script": script})
	return err
}

// StartPrint starts printing filename, a path relative to the gcodes root,
// with SDCARD_PRINT_FILE as Moonraker does (leading '/' dropped, double
// quotes escaped).
func (c *Client) StartPrint(ctx context.Context, filename string) error {
	filename = strings.TrimPrefix(filename, "/")
	filename = strings.ReplaceAll(filename, `"`, `\"`)
	return c.GcodeScript(ctx, `SDCARD_PRINT_FILE FILENAME="`+filename+`"`)
}

// PausePrint pauses the print (pause_resume/pause, i.e. PAUSE).
func (c *Client) PausePrint(ctx context.Context) error {
	_, err := c.Request(ctx, "pause_resume/pause", nil)
	return err
}

// ResumePrint resumes a paused print (pause_resume/resume, i.e. RESUME).
func (c *Client) ResumePrint(ctx context.Context) error {
	_, err := c.Request(ctx, "pause_resume/resume", nil)
	return err
}

// CancelPrint cancels the print (pause_resume/cancel, i.e. CANCEL_PRINT).
func (c *Client) CancelPrint(ctx context.Context) error {
	_, err := c.Request(ctx, "pause_resume/cancel", nil)
	return err
}

// EmergencyStop shuts Klippy down at once (emergency_stop); it needs a
// FIRMWARE_RESTART afterwards.
func (c *Client) EmergencyStop(ctx context.Context) error {
	_, err := c.Request(ctx, "emergency_stop", nil)
	return err
}
