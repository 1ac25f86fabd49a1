"""The ``"rgb_array"`` frames of the tree game, drawn with numpy alone (no pygame, no image library)."""

from __future__ import annotations

import math

import numpy as np

CELL_PIXELS = 32
"""The width of a cell in an ``"rgb_array"`` frame at scale 1: the frame is drawn in units of this cell."""

IMAGE_HEIGHT = 64
"""The height of an ``"rgb_array"`` frame at scale 1."""

MIN_FRAME_WIDTH = 480
"""Short hills are drawn at the smallest whole scale that makes a frame at least this wide (:func:`frame_shape`)."""

# the colours of an "rgb_array" frame
SKY_TOP = np.array([150, 200, 245], dtype=np.float64)
SKY_BOTTOM = np.array([225, 240, 252], dtype=np.float64)
EARTH = (130, 90, 50)
EARTH_EDGE = (110, 75, 40)
GRASS = (60, 160, 60)
LAVA = (230, 80, 20)
FLAME = (255, 190, 40)
DIAMOND = (40, 220, 240)
DIAMOND_SHINE = (180, 248, 255)
POLE = (70, 70, 70)
PENNANT = (220, 30, 30)
ROBOT = (40, 60, 160)
ROBOT_HEAD = (80, 110, 205)
WHEEL = (35, 35, 35)
EYE = (255, 255, 255)
PUPIL = (20, 20, 20)
ANTENNA_TIP = (230, 40, 40)
ARROW = (255, 215, 0)
ARROW_OUTLINE = (20, 20, 20)

# heights in drawing units (0 at the top of the frame, IMAGE_HEIGHT at the bottom)
_HILLTOP_SURFACE = 34.0
_HILL_DROP = 16.0  # from the hilltop down to the foot of the hillside
_PIT_SURFACE = 54.0


def frame_scale(hill_length: int) -> int:
    """Pixels per drawing unit of an ``"rgb_array"`` frame: the smallest whole number that makes the frame at least
    ``MIN_FRAME_WIDTH`` pixels wide (4 for PGToy-v0, 3 for SlipperyHill-v0, 1 from a hill of 12 cells on)."""
    return max(1, math.ceil(MIN_FRAME_WIDTH / (CELL_PIXELS * (hill_length + 3))))


def frame_shape(hill_length: int) -> tuple[int, int, int]:
    """The shape ``(height, width, 3)`` of an ``"rgb_array"`` frame of a hill of ``hill_length`` cells:
    ``s (64, 32 (H + 3), 3)`` with ``s = frame_scale(H)``: ``(256, 512, 3)`` for PGToy-v0, ``(192, 576, 3)`` for
    SlipperyHill-v0."""
    scale = frame_scale(hill_length)
    return (IMAGE_HEIGHT * scale, CELL_PIXELS * (hill_length + 3) * scale, 3)


def _ellipse(x: np.ndarray, y: np.ndarray, cx: float, cy: float, rx: float, ry: float, power: int = 2) -> np.ndarray:
    """The pixels inside an ellipse (``power=2``) or a rounded rectangle (``power=4``) centred on ``(cx, cy)``."""
    inside: np.ndarray = np.abs((x - cx) / rx) ** power + np.abs((y - cy) / ry) ** power <= 1.0
    return inside


def _draw_diamond(tile: np.ndarray, x: np.ndarray, y: np.ndarray, cx: float, cy: float, rx: float, ry: float) -> None:
    """A cut diamond centred on ``(cx, cy)``, its upper facet lit."""
    gem = np.abs(x - cx) / rx + np.abs(y - cy) / ry <= 1.0
    tile[gem] = DIAMOND
    tile[gem & (y < cy - ry / 3) & (x < cx)] = DIAMOND_SHINE


def _arrow(x: np.ndarray, y: np.ndarray, cx: float, cy: float, sign: int, grow: float = 0.0) -> np.ndarray:
    """An arrow 14 units long centred on ``(cx, cy)``, pointing right (``sign=1``) or left (``-1``); ``grow``
    widens it on every side (for its outline)."""
    along = sign * (x - cx)  # distance along the arrow, from its middle towards its tip
    shaft = (along >= -7.0 - grow) & (along <= 1.0) & (np.abs(y - cy) <= 1.2 + grow)
    head = (along >= 0.0 - grow) & (np.abs(y - cy) <= (7.0 + 1.6 * grow - along) * 0.55)
    return shaft | head


def _draw_robot(
    tile: np.ndarray, x: np.ndarray, y: np.ndarray, cx: float, ground: float, carrying: bool, move: int | None
) -> None:
    """The robot standing on ``ground`` at ``cx``: wheels, body (with the diamond once picked up), head with eyes
    looking the way of the last move (-1 left, +1 right, None), antenna, and above it an arrow pointing that way."""
    for wheel_x in (cx - 4.0, cx + 4.0):
        tile[_ellipse(x, y, wheel_x, ground - 2.0, 2.0, 2.0)] = WHEEL
    tile[_ellipse(x, y, cx, ground - 7.5, 6.5, 4.5, power=4)] = ROBOT
    if carrying:
        _draw_diamond(tile, x, y, cx, ground - 7.5, 2.5, 3.0)
    tile[(np.abs(x - cx) <= 0.4) & (y >= ground - 21.0) & (y < ground - 17.0)] = ROBOT
    tile[_ellipse(x, y, cx, ground - 21.0, 1.0, 1.0)] = ANTENNA_TIP
    tile[_ellipse(x, y, cx, ground - 14.8, 5.0, 3.3, power=4)] = ROBOT_HEAD
    look = 0.0 if move is None else 0.6 * move
    for eye_x in (cx - 2.1, cx + 2.1):
        tile[_ellipse(x, y, eye_x, ground - 14.8, 1.3, 1.3)] = EYE
        tile[_ellipse(x, y, eye_x + look, ground - 14.8, 0.65, 0.65)] = PUPIL
    if move is not None:
        tile[_arrow(x, y, cx, ground - 27.5, move, grow=0.8)] = ARROW_OUTLINE
        tile[_arrow(x, y, cx, ground - 27.5, move)] = ARROW


def _ground_top(cell: int, hill_length: int) -> float:
    """The height of the ground's surface in ``cell``, in drawing units from the top: the pit (cell 0) lowest,
    the hillside rising cell by cell to the hilltop (cell ``hill_length + 1``), the flag level with it."""
    if cell == 0:
        return _PIT_SURFACE
    hilltop = hill_length + 1
    rise = min(cell, hilltop) / hilltop
    return _HILLTOP_SURFACE + (1.0 - rise) * _HILL_DROP


def draw_frame(hill_length: int, cell: int, diamond: int, last_move: int | None) -> np.ndarray:
    """The ``"rgb_array"`` frame of the game in state ``(cell, diamond)``, drawn with numpy: sky, terraced
    hillside, fire pit, diamond, flag, the robot, and an arrow
    above the robot pointing the way of the last move (``last_move``: -1 left, +1 right, None after a reset).

    Everything is drawn in units of a cell 32 wide and 64 high, at ``frame_scale(hill_length)`` pixels per
    unit, so every frame is at least ``MIN_FRAME_WIDTH`` pixels wide and shapes stay sharp at any scale.
    """
    scale = frame_scale(hill_length)
    height, width, _ = frame_shape(hill_length)
    image = np.empty((height, width, 3), dtype=np.uint8)
    rows = (np.arange(height) + 0.5) / height
    image[:] = np.rint(SKY_TOP + rows[:, None] * (SKY_BOTTOM - SKY_TOP)).astype(np.uint8)[:, None, :]
    # the unit coordinates of every pixel of one cell's tile, shared by the tiles that draw shapes
    y, x = (np.mgrid[0:height, 0 : CELL_PIXELS * scale] + 0.5) / scale
    tile_width = CELL_PIXELS * scale
    for c in range(hill_length + 2 + 1):
        tile = image[:, c * tile_width : (c + 1) * tile_width]
        top = _ground_top(c, hill_length)
        surface = round(top * scale)
        if c == 0:
            tile[surface:] = LAVA
            if c == cell:  # the robot sinks into the fire
                _draw_robot(tile, x, y, CELL_PIXELS / 2, top + 6.0, diamond == 0, last_move)
                tile[round((top + 1.5) * scale) :] = LAVA
            flames = (y < top + 1.5) & (y > top - 5.0 * np.abs(np.sin(np.pi * x / 8.0)) ** 2)
            tile[flames] = FLAME
            continue
        tile[surface:] = EARTH
        tile[surface : surface + round(3 * scale)] = GRASS
        tile[surface:, :scale] = EARTH_EDGE  # a seam between cells, so they can be counted
        robot_x = CELL_PIXELS / 2
        if c == 1 and diamond:
            _draw_diamond(tile, x, y, CELL_PIXELS / 2, top - 6.5, 5.0, 6.0)
        if c == hill_length + 2:
            tile[(x >= 23.0) & (x < 24.5) & (y >= top - 26.0) & (y < top)] = POLE
            pennant = (x >= 24.5) & (np.abs(y - (top - 22.0)) <= 4.0 * (31.0 - x) / 6.5)
            tile[pennant] = PENNANT
            robot_x = 11.0
        if c == cell:
            _draw_robot(tile, x, y, robot_x, top, diamond == 0, last_move)
    return image
