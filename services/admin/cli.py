"""``crm-admin``: operator commands. Results are told in French; exit codes: 0 done, 1 the
command met or found a problem (an unknown user, a broken chain...), 2 it could not run (bad
usage, a database or the broker unreachable)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

import orjson

from services.common.broker import BROKER_ERRORS, dead_letter_queue

from . import audit, dlq, status, users
from .config import SERVICES, AdminConfig, environment
from .connect import (
    DB_ERRORS,
    EXIT_OK,
    EXIT_PROBLEM,
    EXIT_UNREACHABLE,
    CommandError,
    broker,
    database,
    describe,
)

ROLES = ("admin", "user", "readonly")
SERVICE_HELP = "le service dont la file des lettres mortes est lue"
MESSAGE_HELP = "l'identifiant du message (celui de l'événement), comme dlq list l'affiche"


@dataclass(frozen=True)
class Context:
    config: AdminConfig
    stdin: TextIO
    out: TextIO

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)


Command = Callable[[argparse.Namespace, Context], Awaitable[int]]


def read_password(ctx: Context) -> str:
    """One password from standard input (asked twice, hidden, on a terminal)."""
    if ctx.stdin.isatty():
        first = getpass.getpass("Nouveau mot de passe : ")
        if getpass.getpass("Le même, encore : ") != first:
            raise CommandError("Les deux saisies diffèrent ; rien n'a changé.")
        password = first
    else:
        password = ctx.stdin.readline().rstrip("\r\n")
    if not password:
        raise CommandError("Aucun mot de passe lu sur l'entrée standard ; rien n'a changé.")
    return password


# --- users ---------------------------------------------------------------------------------


async def user_create(args: argparse.Namespace, ctx: Context) -> int:
    password = read_password(ctx) if args.password_stdin else None
    async with database(ctx.config, "gateway") as pool:
        created, generated = await users.create(
            pool, args.username, args.role, password, args.display_name or "", args.email
        )
    ctx.say(
        f"Utilisateur « {created['username']} » créé (rôle {created['role']}, id {created['id']})."
    )
    if generated:
        ctx.say(f"Mot de passe généré (affiché une seule fois) : {generated}")
    return EXIT_OK


async def user_reset_password(args: argparse.Namespace, ctx: Context) -> int:
    password = read_password(ctx) if args.password_stdin else None
    async with database(ctx.config, "gateway") as pool:
        generated = await users.reset_password(pool, args.username, password)
    ctx.say(f"Mot de passe de « {args.username} » changé ; ses sessions ouvertes sont terminées.")
    if generated:
        ctx.say(f"Nouveau mot de passe (affiché une seule fois) : {generated}")
    return EXIT_OK


async def user_deactivate(args: argparse.Namespace, ctx: Context) -> int:
    async with database(ctx.config, "gateway") as pool:
        changed = await users.deactivate(pool, args.username)
    if changed:
        ctx.say(
            f"Utilisateur « {args.username} » désactivé : il ne peut plus se connecter "
            "et ses sessions sont terminées."
        )
    else:
        ctx.say(f"Utilisateur « {args.username} » déjà désactivé ; ses sessions sont terminées.")
    return EXIT_OK


# --- dead letters --------------------------------------------------------------------------


async def dlq_list(args: argparse.Namespace, ctx: Context) -> int:
    exchange = ctx.config.exchange
    total = 0
    async with broker(ctx.config.amqp_admin_url) as connection:
        for service in [args.service] if args.service else SERVICES:
            name = dead_letter_queue(exchange, service)
            if not args.service and await dlq.queue_counts(connection, name) is None:
                continue
            count, letters = await dlq.read(
                connection, exchange, service, ctx.config.broker_user(service), args.limit
            )
            total += count
            ctx.say(f"{name} : {count} message(s)")
            for letter in letters:
                event = letter["event"]
                what = " ".join(str(event.get(k)) for k in ("type", "subject") if event.get(k))
                ctx.say(f"  {letter['id']}  {what or event.get('corps', '')}")
                ctx.say(f"      raison : {letter['reason']}  (mort le {letter['died_at']})")
                if not letter["trusted"]:
                    ctx.say(f"      éditeur inconnu / non fiable : {letter['provenance']}")
            if count > len(letters):
                ctx.say(f"  … et {count - len(letters)} autre(s) (--limit pour en voir plus)")
    if not total:
        ctx.say("Aucun événement en lettres mortes.")
    return EXIT_OK


async def dlq_show(args: argparse.Namespace, ctx: Context) -> int:
    async with broker(ctx.config.amqp_admin_url) as connection:
        _count, letters = await dlq.read(
            connection,
            ctx.config.exchange,
            args.service,
            ctx.config.broker_user(args.service),
            ident=args.message_id,
        )
    letter = dlq.find(letters, args.message_id)
    ctx.say(f"Message {letter['id']} ({letter['size']} octets) de {dlq_name(ctx, args.service)}")
    ctx.say(f"Raison : {letter['reason']}")
    if letter["trusted"]:
        ctx.say(f"Éditeur : {letter['properties']['user_id'] or 'aucun'} ({letter['provenance']})")
    else:
        ctx.say(f"Éditeur : inconnu / non fiable ({letter['provenance']}) ; rejoué sans user_id")
    ctx.say("Événement :")
    for key, value in letter["event"].items():
        ctx.say(f"  {key} : {value}")
    ctx.say("Propriétés :")
    for key, value in letter["properties"].items():
        if value is not None:
            ctx.say(f"  {key} : {value}")
    ctx.say("En-têtes :")
    ctx.say(pretty(letter["headers"]))
    if args.body:
        ctx.say("Corps :")
        ctx.say(pretty(letter["body"]))
    return EXIT_OK


def dlq_name(ctx: Context, service: str) -> str:
    return dead_letter_queue(ctx.config.exchange, service)


def pretty(value: object) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode()


async def dlq_replay(args: argparse.Namespace, ctx: Context) -> int:
    if (args.message_id is None) == (not args.all):
        raise CommandError("Donner soit un identifiant de message, soit --all.", EXIT_UNREACHABLE)
    async with broker(ctx.config.amqp_admin_url) as connection:
        replayed = await dlq.replay(
            connection,
            ctx.config.exchange,
            args.service,
            ctx.config.broker_user(args.service),
            args.message_id,
            force=args.force,
        )
    target = f"{ctx.config.exchange}.{args.service}"
    for ident in replayed:
        ctx.say(f"Rejoué : {ident} → {target}")
    ctx.say(f"{len(replayed)} message(s) rejoué(s)." if replayed else "Rien à rejouer.")
    return EXIT_OK


# --- audit ---------------------------------------------------------------------------------


async def audit_verify(args: argparse.Namespace, ctx: Context) -> int:
    checked = entries = broken = 0
    async with database(ctx.config, "audit") as pool:
        async for result in audit.chains(pool, args.entity, args.id):
            checked += 1
            entries += result.check.entries
            if not result.check.valid:
                broken += 1
                ctx.say(
                    f"ROMPUE  {result.entity} {result.record_id} : entrée "
                    f"{result.check.first_broken_seq} sur {result.check.entries}, "
                    f"{result.check.reason}"
                )
    if not checked:
        if args.entity or args.id:
            ctx.say("Aucune chaîne d'audit ne correspond.")
            return EXIT_PROBLEM
        ctx.say("Aucune chaîne d'audit (le journal est vide).")
        return EXIT_OK
    if broken:
        ctx.say(f"{broken} chaîne(s) rompue(s) sur {checked} ({entries} entrées).")
        return EXIT_PROBLEM
    ctx.say(f"{checked} chaîne(s) vérifiée(s), {entries} entrées : toutes intègres.")
    return EXIT_OK


# --- status --------------------------------------------------------------------------------


async def show_status(_args: argparse.Namespace, ctx: Context) -> int:
    code = EXIT_OK
    ctx.say("Outbox (événements écrits, pas encore publiés)")
    ctx.say(f"  {'service':<12}{'en attente':>12}   plus ancien")
    for service in SERVICES:
        try:
            async with database(ctx.config, service) as pool:
                backlog = await status.outbox_backlog(pool)
        except CommandError as exc:
            ctx.say(f"  {service:<12}  {exc.message}")
            code = EXIT_UNREACHABLE
            continue
        ctx.say(f"  {service:<12}{backlog.unpublished:>12}   {status.age(backlog.oldest)}")
    ctx.say(f"Files RabbitMQ (échange {ctx.config.exchange})")
    try:
        async with broker(ctx.config.amqp_admin_url) as connection:
            width = max(len(name) for name in status.queues(ctx.config.exchange)) + 2
            ctx.say(f"  {'file':<{width}}{'messages':>10}{'consommateurs':>15}")
            for name in status.queues(ctx.config.exchange):
                counts = await dlq.queue_counts(connection, name)
                if counts is None:
                    ctx.say(f"  {name:<{width}}{'(absente)':>10}")
                    continue
                note = ""
                if name.endswith(".dead-letter") and counts[0]:
                    service = name.removeprefix(f"{ctx.config.exchange}.").split(".")[0]
                    note = f"   à examiner : crm-admin dlq list {service}"
                ctx.say(f"  {name:<{width}}{counts[0]:>10}{counts[1]:>15}{note}")
    except CommandError as exc:
        ctx.say(f"  {exc.message}")
        code = EXIT_UNREACHABLE
    return code


# --- the command line ----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crm-admin",
        description=(
            "Commandes d'exploitation de webleads-tracker. Configuration : les variables "
            "CRM_* des services (CRM_<SERVICE>_DATABASE_URL, CRM_AMQP_URL, CRM_AMQP_ADMIN_URL, "
            "CRM_EXCHANGE), complétées par .run/secrets.env dans un dépôt lancé par make run."
        ),
        epilog="Codes de sortie : 0 fait, 1 problème constaté, 2 impossible de s'exécuter.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMANDE")

    user = commands.add_parser("user", help="utilisateurs")
    user_commands = user.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = user_commands.add_parser("create", help="créer un utilisateur")
    create.add_argument("username", help="identifiant de connexion")
    create.add_argument("--role", required=True, choices=ROLES, help="rôle")
    create.add_argument("--display-name", help="nom affiché")
    create.add_argument("--email", help="adresse e-mail")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="lire le mot de passe sur l'entrée standard (sinon il est généré et affiché)",
    )
    create.set_defaults(handler=user_create)
    reset = user_commands.add_parser("reset-password", help="changer le mot de passe de quelqu'un")
    reset.add_argument("username")
    reset.add_argument(
        "--password-stdin",
        action="store_true",
        help="lire le mot de passe sur l'entrée standard (sinon il est généré et affiché)",
    )
    reset.set_defaults(handler=user_reset_password)
    deactivate = user_commands.add_parser(
        "deactivate", help="désactiver un utilisateur et terminer ses sessions"
    )
    deactivate.add_argument("username")
    deactivate.set_defaults(handler=user_deactivate)

    dead = commands.add_parser("dlq", help="événements en lettres mortes")
    dead_commands = dead.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = dead_commands.add_parser("list", help="lister (sans rien retirer des files)")
    listing.add_argument(
        "service", nargs="?", choices=SERVICES, help="une seule file (sinon toutes)"
    )
    listing.add_argument("--limit", type=int, default=50, help="messages montrés par file (50)")
    listing.set_defaults(handler=dlq_list)
    show = dead_commands.add_parser("show", help="montrer un message : en-têtes et événement")
    show.add_argument("service", choices=SERVICES, help=SERVICE_HELP)
    show.add_argument("message_id", metavar="message-id", help=MESSAGE_HELP)
    show.add_argument("--body", action="store_true", help="montrer aussi le corps complet")
    show.set_defaults(handler=dlq_show)
    replay = dead_commands.add_parser(
        "replay", help="republier dans la file du service, puis retirer des lettres mortes"
    )
    replay.add_argument("service", choices=SERVICES, help=SERVICE_HELP)
    replay.add_argument("message_id", metavar="message-id", nargs="?", help=MESSAGE_HELP)
    replay.add_argument("--all", action="store_true", help="rejouer tous les messages de la file")
    replay.add_argument(
        "--force",
        action="store_true",
        help="rejouer aussi les messages d'éditeur inconnu ou non fiable (sans user_id : les "
        "consommateurs les refuseront de nouveau)",
    )
    replay.set_defaults(handler=dlq_replay)

    audit_parser = commands.add_parser("audit", help="journal d'audit")
    audit_commands = audit_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    verify = audit_commands.add_parser(
        "verify", help="vérifier toutes les chaînes (code 1 si l'une est rompue)"
    )
    verify.add_argument("--entity", help="seulement ce type de fiche (account, contact, ...)")
    verify.add_argument("--id", help="seulement cette fiche")
    verify.set_defaults(handler=audit_verify)

    state = commands.add_parser("status", help="retard des outbox et profondeur des files")
    state.set_defaults(handler=show_status)
    return parser


async def run(
    argv: Sequence[str],
    *,
    config: AdminConfig | None = None,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """The command ``argv``; its exit code. Errors are one line on ``err``, never a traceback."""
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(list(argv))
    except SystemExit as exc:  # argparse has printed the usage or the help
        return exc.code if isinstance(exc.code, int) else EXIT_UNREACHABLE
    ctx = Context(
        config or AdminConfig.from_env(environment()), stdin or sys.stdin, out or sys.stdout
    )
    handler: Command = args.handler
    try:
        return await handler(args, ctx)
    except CommandError as exc:
        print(exc.message, file=err, flush=True)
        return exc.code
    except DB_ERRORS as exc:
        print(f"Connexion perdue (base de données ou courtier) : {describe(exc)}", file=err)
        return EXIT_UNREACHABLE
    except BROKER_ERRORS as exc:
        print(f"Courtier RabbitMQ : {describe(exc)}", file=err)
        return EXIT_UNREACHABLE


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return asyncio.run(run(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:
        print("Interrompu.", file=sys.stderr)
        return 130
