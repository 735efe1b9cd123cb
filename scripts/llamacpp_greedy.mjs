// Greedy continuation of a GGUF model in llama.cpp (prebuilt, through the node-llama-cpp npm package), from
// token ids, for comparing with qwenc. Run from where node-llama-cpp is installed (scripts/check-llamacpp-convert).
//   usage: node llamacpp_greedy.mjs MODEL.gguf IDS(1,2,3) N  -> prints the N generated ids, comma-separated
import {getLlama} from "node-llama-cpp";
const [model_path, ids_arg, n = "32"] = process.argv.slice(2);
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath: model_path, gpuLayers: 0});
const ctx = await model.createContext({contextSize: 512, threads: 1, sequences: 1});
const seq = ctx.getSequence();
const out = [];
for await (const tok of seq.evaluate(ids_arg.split(",").map(Number), {temperature: 0})) {
  out.push(tok);
  if (out.length >= +n) break;
}
console.log(out.join(","));
