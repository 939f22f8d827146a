using NormLab.IO;
using static TorchSharp.torch;

namespace NormLab.Cli;

/// <summary>An output directory, checked for writability before any work starts.</summary>
internal sealed class OutputDirectory
{
    private OutputDirectory(string path) => Path = path;

    /// <summary>The directory's path.</summary>
    public string Path { get; }

    /// <summary>Creates the directory if needed and proves it is writable.</summary>
    /// <exception cref="IOException">it cannot be created or written.</exception>
    public static OutputDirectory Open(string path)
    {
        try
        {
            Directory.CreateDirectory(path);
            string probe = System.IO.Path.Combine(path, $".normlab-write-test-{Environment.ProcessId}");
            System.IO.File.WriteAllText(probe, "");
            System.IO.File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"output directory '{path}' is not writable: {e.Message}");
        }
        return new OutputDirectory(path);
    }

    /// <summary>The full path of a file in the directory.</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Writes a tensor as .npy, atomically (a partial file never replaces a complete one).</summary>
    public void Write(string name, Tensor t) => AtomicFile.Write(File(name), s => Npy.Write(s, t));

    /// <summary>Writes text atomically.</summary>
    public void WriteText(string name, string text) => AtomicFile.WriteText(File(name), text);
}
