package certs

import (
	"context"
	"fmt"

	"k8s.io/apiserver/pkg/server/dynamiccertificates"
)

// FileSource feeds a Holder from a certificate and key file, reloading
// them when they change: the cert-manager path, where a renewed Secret is
// mounted into the pod. It uses the API server library's file watcher
// (fsnotify, and a re-read every minute in case an event is missed), the
// same one the metrics API uses for its own files.
type FileSource struct {
	files  *dynamiccertificates.DynamicCertKeyPairContent
	holder *Holder
}

// NewFileSource reads certFile and keyFile into h; an unreadable or
// mismatched pair is an error (the process cannot serve TLS).
func NewFileSource(purpose, certFile, keyFile string, h *Holder) (*FileSource, error) {
	files, err := dynamiccertificates.NewDynamicServingContentFromFiles(purpose, certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("certs: %s: %w", purpose, err)
	}
	s := &FileSource{files: files, holder: h}
	files.AddListener(s)
	s.Enqueue()
	return s, nil
}

// Enqueue copies the files' current content into the Holder
// (dynamiccertificates.Listener; called by the watcher on every change).
func (s *FileSource) Enqueue() {
	// The watcher only publishes a pair that parses and matches.
	_ = s.holder.Set(s.files.CurrentCertKeyContent())
}

// Start watches the files until ctx is done, then returns nil.
func (s *FileSource) Start(ctx context.Context) error {
	s.files.Run(ctx, 1)
	return nil
}
