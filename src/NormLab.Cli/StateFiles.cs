using System.Text.Json;
using NormLab.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Cli;

/// <summary>Loads state-dict entries from .npy files and writes a module's state dict out.</summary>
internal static class StateFiles
{
    /// <summary>A state-dict key as a file name: dots become underscores.</summary>
    public static string FileKey(string key) => key.Replace('.', '_');

    /// <summary>Copies each KEY=FILE into the module's state-dict entry KEY.</summary>
    /// <exception cref="ArgumentException">an unknown key or a wrong shape; the message lists every key with its shape.</exception>
    public static void Load(nn.Module module, IEnumerable<(string Key, string File)> entries, ScalarType floatType)
    {
        var state = module.state_dict();
        string Listing() => string.Join(", ", state.Select(kv => $"{kv.Key} [{string.Join(", ", kv.Value.shape)}]"));
        foreach (var (key, file) in entries)
        {
            if (!state.TryGetValue(key, out var target))
                throw new ArgumentException($"--state: unknown key '{key}'; the state dict has: {(state.Count == 0 ? "no entries" : Listing())}");
            var value = TensorFiles.Read(file, $"--state {key}");
            if (!value.shape.SequenceEqual(target.shape))
                throw new ArgumentException($"--state {key}: {file} has shape {TensorFiles.Shape(value)} but '{key}' has shape {TensorFiles.Shape(target)}; the state dict has: {Listing()}");
            using var _ = no_grad();
            target.copy_(value.to(target.dtype));
        }
    }

    /// <summary>Writes DIR/&lt;key&gt;.npy for every state-dict entry and DIR/state.json mapping keys to shapes.</summary>
    public static void Write(OutputDirectory output, nn.Module module)
    {
        var state = module.state_dict();
        foreach (var (key, value) in state)
            output.Write($"{FileKey(key)}.npy", value);
        var shapes = state.ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        output.WriteText("state.json", JsonSerializer.Serialize(shapes, new JsonSerializerOptions { WriteIndented = true }));
    }
}
