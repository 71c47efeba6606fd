package api

import (
	"net/http"
)

// homePosts is how many of the newest posts the home page lists.
const homePosts = 5

// static serves the static assets (lab/web): fingerprinted names immutable, aliases revalidated.
func (a *API) static(w http.ResponseWriter, r *http.Request) {
	if !a.cfg.Assets.ServeStatic(w, r) {
		writeError(w, http.StatusNotFound, "%s: no such asset (the list: /static/manifest.json)", r.URL.Path)
	}
}

// home serves the localized home page with the newest posts: one query and a render per
// request, what a cache in front saves.
func (a *API) home(w http.ResponseWriter, r *http.Request) {
	posts, err := a.cfg.Store.ListPosts(r.Context(), homePosts)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.cfg.Assets.ServeHome(w, r, posts); err != nil {
		a.fail(w, r, err)
	}
}
