package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"time"
)

//go:embed static
var staticFS embed.FS

// asset is one embedded static file, with the fingerprint that versions its URL.
type asset struct {
	body  []byte
	ctype string
	hash  string
}

// assets maps a file name under static/ to the file.
var assets = loadAssets()

func loadAssets() map[string]asset {
	m := map[string]asset{}
	err := fs.WalkDir(staticFS, "static", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ctype := mime.TypeByExtension(path.Ext(p))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		m[p[len("static/"):]] = asset{body: b, ctype: ctype, hash: hex.EncodeToString(sum[:6])}
		return nil
	})
	if err != nil {
		panic("web: embedded static files: " + err.Error()) // built into the binary: cannot happen at run time
	}
	return m
}

// assetURL is the fingerprinted URL of a static file (templates call it as {{asset "app.css"}}):
// the fingerprint changes with the content, so browsers may cache the file for good.
func assetURL(name string) string {
	a, ok := assets[name]
	if !ok {
		return "/static/" + name
	}
	return "/static/" + name + "?v=" + a.hash
}

// staticHandler serves the embedded static files. A request with the current fingerprint (?v=)
// may be cached for a year; any other is revalidated with the ETag.
type staticHandler struct{}

func (staticHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, ok := assets[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("ETag", `"`+a.hash+`"`)
	if r.URL.Query().Get("v") == a.hash {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "public, max-age=0, must-revalidate")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
