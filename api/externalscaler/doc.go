// Package externalscaler is KEDA's external scaler protocol
// (externalscaler.proto) and the Go code protoc generates from it:
// externalscaler.pb.go and externalscaler_grpc.pb.go are generated, never
// edited. Regenerate with `go generate ./api/externalscaler` (or `make
// generate`), which needs protoc (Debian's protobuf-compiler, installed by
// `make deps`) and builds the two plugins from the versions pinned as tools
// in go.mod; TestGeneratedCodeIsCurrent fails when the committed code
// differs from what they produce.
package externalscaler

//go:generate go run ./internal/gen -dir .
