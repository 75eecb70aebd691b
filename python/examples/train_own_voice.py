"""Train a denoiser on your own voice and noise, then denoise a recording.

    python3 train_own_voice.py --speech VOICE_DIR --noise NOISE_DIR \\
        --noisy NOISY.wav --output CLEAN.wav [--model MODEL.npz] [--epochs 100]

VOICE_DIR holds clean recordings of your voice (a few minutes in all; WAV,
FLAC, ... any rate) and NOISE_DIR recordings of the noise alone (the fan,
the street).  The speech and noise bases are learned by NMF (mode "std";
--mode adv fits them by MDNMF, each basis also pushed away from the other
source, which pays with more data), NOISY.wav is denoised with them and the model saved for later (examples/denoise_wav.py
or `mdnmf denoise apply` use it).

Without noise-only recordings, use --noisy-train NOISY_DIR instead of
--noise: the noise is then learned from noisy recordings (mode "semi_adv").
"""

import argparse

import mdnmf


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speech", required=True, nargs="+", help="clean voice: files/folders")
    parser.add_argument("--noise", nargs="+", help="noise alone: files/folders")
    parser.add_argument("--noisy-train", nargs="+", help="noisy recordings to learn noise from")
    parser.add_argument("--noisy", required=True, help="recording to denoise")
    parser.add_argument("--output", required=True, help="WAV file for the speech estimate")
    parser.add_argument("--model", help="save the model here")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--atoms", type=int, nargs=2, default=(128, 32))
    parser.add_argument("--sample-rate", type=int, help="model rate (default: the first file's)")
    parser.add_argument("--n-fft", type=int, default=512)
    parser.add_argument("--mode", help="std or adv with --noise (default std), semi or "
                        "semi_adv with --noisy-train (default semi_adv)")
    args = parser.parse_args()
    if bool(args.noise) == bool(args.noisy_train):
        parser.error("give either --noise (clean noise) or --noisy-train (noisy speech)")

    mode = args.mode or ("std" if args.noise else "semi_adv")
    denoiser = mdnmf.Denoiser().fit(
        args.speech, args.noisy_train, noise=args.noise, mode=mode, atoms=tuple(args.atoms),
        epochs=args.epochs, sample_rate=args.sample_rate, n_fft=args.n_fft)
    print(f"trained {denoiser} in {len(denoiser.history_)} epochs")
    if args.model:
        denoiser.save(args.model)

    samples, rate = mdnmf.read_audio(args.noisy)
    speech, _ = denoiser.apply(samples, rate)
    mdnmf.write_audio(args.output, speech, rate)
    print(f"{args.noisy} -> {args.output}")


if __name__ == "__main__":
    main()
