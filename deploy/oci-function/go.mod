module vauto-fn

go 1.23

require github.com/fnproject/fdk-go v0.0.66
