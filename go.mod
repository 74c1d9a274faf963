module github.com/tend-sh/tend

go 1.26.0

require (
	github.com/dustin/go-humanize v1.1.0
	github.com/peterh/liner v1.2.3
	github.com/yuin/gopher-lua v1.1.2
	golang.org/x/sys v0.49.0
)

require (
	github.com/clipperhouse/uax29/v2 v2.7.0 // indirect
	github.com/mattn/go-runewidth v0.0.31 // indirect
)
