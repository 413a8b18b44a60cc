// A minimal static Go net/http server for bench/http.sh: GET /healthz
// answers 200 with the same 16-byte JSON body and content type as
// tinyserver. It is what a Go developer would put in a FROM scratch image
// (CGO_ENABLED=0), built with Debian's golang-go. Not shipped.
//
// usage: go-server -addr 127.0.0.1:PORT
package main

import (
	"flag"
	"log"
	"net/http"
	"strconv"
)

var healthBody = []byte("{\"status\":\"ok\"}\n")

func healthz(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(healthBody)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(healthBody)
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	flag.Parse()
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", healthz)
	log.Fatal(http.ListenAndServe(*addr, mux))
}
