# Models of `make bench` / `make bench-compare` (sourced): one per line,
# "label|qsweep bench flags|bench/torch_ref.py flags|steps[|batch]" (batch:
# this row's, instead of BATCH; the ImageNet row's 224 x 224 images train
# at a few per second, so it runs batch 32, the setting).
BENCH_MODELS='basic-20 k16|--model resnet --block basic --depth 20 --width 16|--model resnet --block basic --depth 20 --width 16|3
basic-20 k10|--model resnet --block basic --depth 20 --width 10|--model resnet --block basic --depth 20 --width 10|5
preact-20 k10|--model resnet --block preact --depth 20 --width 10|--model resnet --block preact --depth 20 --width 10|5
basic-20 k31|--model resnet --block basic --depth 20 --width 31|--model resnet --block basic --depth 20 --width 31|3
preact-20 k31|--model resnet --block preact --depth 20 --width 31|--model resnet --block preact --depth 20 --width 31|3
depthwise-38 k32|--model resnet --block depthwise --depth 38 --width 32|--model resnet --block depthwise --depth 38 --width 32|2
FCDNN 256-4|--model fcdnn --width 256 --depth 4|--model fcdnn --width 256 --depth 4|100
ResNet-18 224 b32|--model imagenet-resnet --depth 18|--model imagenet-resnet --depth 18|2|32'
