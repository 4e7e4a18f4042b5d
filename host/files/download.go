package files

import (
	"errors"
	"io/fs"
	"mime"
	"os"

	"github.com/moonrelay/moonrelay/host/server"
	"github.com/valyala/fasthttp"
)

// handleDownload serves GET /server/files/{root}/{path}.
func (m *Manager) handleDownload(ctx *fasthttp.RequestCtx) {
	rootName, _ := ctx.UserValue("root").(string)
	rel, _ := ctx.UserValue("path").(string)
	rootName, rel = server.PathParam(rootName), server.PathParam(rel)
	root, err := m.Root(rootName)
	if err != nil {
		server.WriteError(ctx, err)
		return
	}
	abs, clean, err := root.resolve(rel)
	if err != nil {
		server.WriteError(ctx, err)
		return
	}
	st, err := os.Stat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		server.WriteError(ctx, server.NotFound("File %s/%s does not exist", rootName, clean))
		return
	}
	if err != nil || st.IsDir() {
		server.WriteError(ctx, server.BadRequest("%s/%s is not a file", rootName, clean))
		return
	}
	f, err := os.Open(abs)
	if err != nil {
		server.WriteError(ctx, err)
		return
	}
	ctx.SetContentType("application/octet-stream")
	ctx.Response.Header.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": st.Name()}))
	ctx.SetBodyStream(f, int(st.Size()))
}
