// Package files owns the file roots clients may reach — gcodes and config
// under the data folder — and the endpoints that list, upload, download and
// delete files in them.
//
// # Guarantees
//
//   - Every path a client sends is resolved inside its root: "..", absolute
//     paths, NUL bytes and symlinks leading out are refused (400/403) before
//     any file is touched.
//   - Uploads are streamed to a temporary file in the data folder while their
//     SHA-256 is computed, and renamed into place only when the whole body
//     arrived and the checksum (if sent) matched. A failed, aborted or
//     refused upload leaves no file behind; memory use does not grow with the
//     file's size.
//   - The file being printed is never overwritten or deleted (403).
//   - Every change is broadcast as notify_filelist_changed.
//
// # Endpoints
//
//	GET    /server/files/roots                server.files.roots
//	GET    /server/files/list?root=gcodes      server.files.list
//	POST   /server/files/upload               (HTTP multipart only)
//	GET    /server/files/{root}/{path}        (HTTP download only)
//	DELETE /server/files/{root}/{path}        server.files.delete_file {path: "gcodes/x.gcode"}
package files
