"""``maskgen masks`` (the mask types and wear styles) and ``maskgen demo`` (every type on one photo)."""
from __future__ import annotations

import click

from maskgen.mask.catalog import describe_mask_type, list_mask_types
from maskgen.mask.options import WEAR_STYLES


@click.command("masks")
def masks_command():
    """List the mask types and wear styles."""
    click.echo("mask types:")
    for name in list_mask_types():
        click.echo(f"  {name:<12} {describe_mask_type(name)}")
    click.echo("wear styles:")
    for name, text in WEAR_STYLES.items():
        click.echo(f"  {name:<12} {text}")


@click.command("demo")
@click.argument("out", type=click.Path(file_okay=False), default="demo_out")
@click.option("--image", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Photo to use instead of the built-in astronaut.")
@click.option("--seed", type=int, default=0, show_default=True)
def demo_command(out, image, seed):
    """Mask the built-in photo with every type and wear style; write the images and a contact sheet."""
    from maskgen.demo import run_demo  # dlib, cv2: not to start the CLI

    try:
        summary = run_demo(out, image, seed)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {summary['images']} images of {summary['faces']} face(s) and contact_sheet.jpg to {out}",
               err=True)
