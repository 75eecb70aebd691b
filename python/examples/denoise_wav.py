"""Denoise a WAV file with a denoising model.

    python3 denoise_wav.py MODEL.npz NOISY.wav CLEAN.wav [--noise NOISE.wav]

MODEL.npz is a model of `mdnmf denoise fit` (e.g. `make models`'
build/models/speech-8k.npz) or of mdnmf.Denoiser.save.  The recording is
denoised at its own rate (resampled to the model's inside) and the speech
estimate written as 16-bit PCM, as `mdnmf denoise apply` writes it.
"""

import argparse

import mdnmf


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="denoising model (.npz)")
    parser.add_argument("noisy", help="recording to denoise")
    parser.add_argument("output", help="WAV file for the speech estimate")
    parser.add_argument("--noise", help="also write the noise estimate here")
    args = parser.parse_args()

    denoiser = mdnmf.Denoiser.load(args.model)
    samples, rate = mdnmf.read_audio(args.noisy)
    speech, noise = denoiser.apply(samples, rate)
    mdnmf.write_audio(args.output, speech, rate)
    if args.noise:
        mdnmf.write_audio(args.noise, noise, rate)
    print(f"{args.noisy}: {samples.size / rate:.2f} s at {rate} Hz denoised with {denoiser} "
          f"-> {args.output}")


if __name__ == "__main__":
    main()
