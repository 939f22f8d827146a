using NormLab.IO;
using static TorchSharp.torch;

namespace NormLab.Cli;

/// <summary>Reading tensors for commands, with errors that name the option.</summary>
internal static class TensorFiles
{
    /// <summary>Reads a floating-point .npy file and converts it to <paramref name="dtype"/>.</summary>
    public static Tensor ReadFloat(string path, string option, ScalarType dtype)
    {
        var t = Read(path, option);
        if (!t.is_floating_point())
            throw new ArgumentException($"{option} {path}: expected a float32 or float64 array, got {t.dtype}");
        return t.to(dtype);
    }

    /// <summary>Reads a .npy file.</summary>
    public static Tensor Read(string path, string option)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{option}: file '{path}' does not exist");
        try { return Npy.Read(path); }
        catch (NpyFormatException e) { throw new NpyFormatException($"{option} {e.Message}"); }
    }

    /// <summary>"[2, 3]".</summary>
    public static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";
}
